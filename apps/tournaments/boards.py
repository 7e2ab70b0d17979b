"""Board identity: what a board is, and which boards a tournament's results feed.

Pure data and functions (no Django import), used by every layer: the models announce the boards a
write touched, the cache keys boards by `BoardRef.name`, the views build the `BoardRef` a request
names, the metrics label by `Scope`.

A tournament's results appear on four kinds of board (contract sections 3 and 6): its own board;
the season and all-time boards of its participation type, for every game and for its own game
(its `Placement`); and the history of every user registered in it, solo or on a roster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

ALL_GAMES = "*"


class Scope(StrEnum):
    TOURNAMENT = "tournament"
    SEASON = "season"
    ALL_TIME = "all_time"
    HISTORY = "history"


# The scopes a client asks for by name (the scoped board, manual invalidation).
PUBLIC_SCOPES = (Scope.TOURNAMENT, Scope.SEASON, Scope.ALL_TIME)


class EvictionReason(StrEnum):
    """Why board keys were removed (the `reason` label of the eviction metric)."""

    MANUAL = "manual"
    RESULT_CHANGE = "result_change"


@dataclass(frozen=True, slots=True)
class BoardRef:
    """Which board: its scope and the parameters that make it one document."""

    scope: Scope
    tournament_id: int | None = None
    season: str | None = None
    game: str | None = None
    participant_type: str | None = None
    user_id: int | None = None

    @classmethod
    def tournament(cls, tournament_id: int) -> BoardRef:
        return cls(Scope.TOURNAMENT, tournament_id=tournament_id)

    @classmethod
    def history(cls, user_id: int) -> BoardRef:
        return cls(Scope.HISTORY, user_id=user_id)

    @property
    def name(self) -> str:
        """Unique per board; the cache keys it by this name."""
        match self.scope:
            case Scope.TOURNAMENT:
                return f"tournament:{self.tournament_id}"
            case Scope.SEASON:
                return f"season:{self.season}:{self.game or ALL_GAMES}:{self.participant_type}"
            case Scope.ALL_TIME:
                return f"all_time:{self.game or ALL_GAMES}:{self.participant_type}"
            case Scope.HISTORY:
                return f"history:{self.user_id}"
        raise ValueError(f"unknown scope {self.scope!r}")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a tournament's results count beyond its own board: its season (slug or None), its
    game (slug) and its participation type."""

    season: str | None
    game: str
    participant_type: str

    def boards(self) -> set[BoardRef]:
        """The season and all-time boards (every game, and this game) of this placement."""
        games = (None, self.game)
        fed = all_time_boards(games, [self.participant_type])
        if self.season:
            fed |= season_boards([self.season], games, [self.participant_type])
        return fed


def boards_fed(
    tournament_ids: Iterable[int],
    placements: Iterable[Placement],
    user_ids: Iterable[int | None],
) -> set[BoardRef]:
    """Every board showing results of these tournaments, given where they are placed and the
    users registered in them (None entries are skipped)."""
    fed = {BoardRef.tournament(tournament_id) for tournament_id in tournament_ids}
    for placement in placements:
        fed |= placement.boards()
    fed |= {BoardRef.history(user_id) for user_id in user_ids if user_id is not None}
    return fed


def season_boards(
    seasons: Iterable[str], games: Iterable[str | None], participant_types: Iterable[str]
) -> set[BoardRef]:
    """The boards of `seasons` x `games` (None: every game) x `participant_types`."""
    game_filters = list(games)
    season_slugs = list(seasons)
    return {
        BoardRef(Scope.SEASON, season=season, game=game, participant_type=participant_type)
        for participant_type in participant_types
        for game in game_filters
        for season in season_slugs
    }


def all_time_boards(games: Iterable[str | None], participant_types: Iterable[str]) -> set[BoardRef]:
    """The all-time boards of `games` (None: every game) x `participant_types`."""
    game_filters = list(games)
    return {
        BoardRef(Scope.ALL_TIME, game=game, participant_type=participant_type)
        for participant_type in participant_types
        for game in game_filters
    }
