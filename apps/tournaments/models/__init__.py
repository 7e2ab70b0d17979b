"""The minimal tournament model the leaderboards read (contract section 2), by sub-domain:
`competition` (games, seasons, tournaments, teams), `registration`, `results` (matches and
disputes) and `payments`.

Invariants that span rows (a registration matches its tournament's participation type; a match's
participants and winner belong to its tournament) cannot be database CHECK constraints; they are
enforced in `clean()` and again in `save()`, so the admin, the ORM and the importer all get them.
Invariants within one row are database constraints.

Every write that can change a board announces it (`apps.tournaments.events`), inside its
transaction: `save()` and `delete()` of the models here, bulk writes through their querysets
(`apps.tournaments.querysets`), roster edits and user deletions through the two receivers in
`registration.py`.
"""

from apps.tournaments.models.competition import (
    BOARD_VISIBLE_STATUSES,
    Game,
    ParticipationType,
    Season,
    Team,
    TiebreakRuleset,
    Tournament,
    TournamentFormat,
    TournamentStatus,
)
from apps.tournaments.models.invalidation import PendingInvalidation
from apps.tournaments.models.payments import Payment, PaymentStatus
from apps.tournaments.models.registration import Registration, RegistrationStatus
from apps.tournaments.models.results import (
    COUNTED_MATCH_STATES,
    Dispute,
    DisputeReason,
    DisputeStatus,
    Match,
    MatchState,
)

__all__ = [
    "BOARD_VISIBLE_STATUSES",
    "COUNTED_MATCH_STATES",
    "Dispute",
    "DisputeReason",
    "DisputeStatus",
    "Game",
    "Match",
    "MatchState",
    "ParticipationType",
    "Payment",
    "PaymentStatus",
    "PendingInvalidation",
    "Registration",
    "RegistrationStatus",
    "Season",
    "Team",
    "TiebreakRuleset",
    "Tournament",
    "TournamentFormat",
    "TournamentStatus",
]
