"""The demo data set behind `manage.py seed_demo`: two games, two seasons, ten tournaments.

Modules: `plans` (what the set holds), `builder` (people, tournaments, registrations,
payments), `matches` (schedules, results, disputes), `seeding` (the entry points).

Contract:
- Deterministic: one `random.Random(DEMO_RANDOM_SEED)` drives every choice, and every loop runs
  in a fixed order, so two builds give the same rows (ids aside).
- Written through the model layer (`Registration.save` and `Match.save` run `clean()`, and
  every write announces its result change; the build announces them as one), inside one
  transaction: a failed build leaves nothing behind.
- Demo rows are recognisable: users by their e-mail domain `DEMO_EMAIL_DOMAIN`, tournaments and
  teams by their names. `--reset` removes exactly those, never other data.
- Payment proofs and dispute evidence are recorded by file name only; no file is written.
"""

from apps.tournaments.services.demo_data.matches import (
    ACTIVE_DISPUTE_STATUSES,
    DRAW,
    DRAW_CHANCE,
    FORFEIT_SCORE,
    FRAGS,
    GOALS,
    MAPS,
    MATCH_MINUTES,
    P1,
    P2,
    RANDOM_FORFEIT_CHANCE,
)
from apps.tournaments.services.demo_data.plans import (
    DE,
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    DEMO_PLAYER_COUNT,
    DEMO_RANDOM_SEED,
    DEMO_TEAM_NAMES,
    DEMO_TOURNAMENT_NAMES,
    DISPUTE_NOTES,
    DR,
    DS,
    EFOOTBALL_DUOS,
    EXAMPLE_SEASON_SLUG,
    EXAMPLE_TOURNAMENT_NAME,
    FIRST_NAMES,
    GAMES,
    LAST_NAMES,
    MS,
    PAYMENT_METHOD_WEIGHTS,
    PAYMENT_METHODS,
    PLAYER_USERNAME,
    RR,
    RS,
    SE,
    SEASONS,
    STAFF_USERNAME,
    TAG_WORDS,
    TOURNAMENT_PLANS,
    VALORANT_TEAMS,
    C,
    S,
    T,
    TournamentPlan,
)
from apps.tournaments.services.demo_data.seeding import (
    DemoSummary,
    build_demo_data,
    demo_data_exists,
    describe_demo_data,
    enable_leaderboard_flags,
    remove_demo_data,
)

__all__ = [
    "ACTIVE_DISPUTE_STATUSES",
    "DE",
    "DEMO_EMAIL_DOMAIN",
    "DEMO_PASSWORD",
    "DEMO_PLAYER_COUNT",
    "DEMO_RANDOM_SEED",
    "DEMO_TEAM_NAMES",
    "DEMO_TOURNAMENT_NAMES",
    "DISPUTE_NOTES",
    "DR",
    "DRAW",
    "DRAW_CHANCE",
    "DS",
    "EFOOTBALL_DUOS",
    "EXAMPLE_SEASON_SLUG",
    "EXAMPLE_TOURNAMENT_NAME",
    "FIRST_NAMES",
    "FORFEIT_SCORE",
    "FRAGS",
    "GAMES",
    "GOALS",
    "LAST_NAMES",
    "MAPS",
    "MATCH_MINUTES",
    "MS",
    "P1",
    "P2",
    "PAYMENT_METHODS",
    "PAYMENT_METHOD_WEIGHTS",
    "PLAYER_USERNAME",
    "RANDOM_FORFEIT_CHANCE",
    "RR",
    "RS",
    "SE",
    "SEASONS",
    "STAFF_USERNAME",
    "TAG_WORDS",
    "TOURNAMENT_PLANS",
    "VALORANT_TEAMS",
    "C",
    "DemoSummary",
    "S",
    "T",
    "TournamentPlan",
    "build_demo_data",
    "demo_data_exists",
    "describe_demo_data",
    "enable_leaderboard_flags",
    "remove_demo_data",
]
