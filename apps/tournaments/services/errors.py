"""Domain errors of the leaderboard service. The API's exception handler maps each to its
HTTP status and error code; the service never imports the API layer."""

from __future__ import annotations


class LeaderboardError(Exception):
    """Base class; `detail` is a sentence safe to show a client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TournamentNotFoundError(LeaderboardError):
    pass


class ParticipantNotFoundError(LeaderboardError):
    pass


class SeasonNotFoundError(LeaderboardError):
    pass


class PageNotFoundError(LeaderboardError):
    pass


class InvalidParameterError(LeaderboardError):
    """A query parameter names something that does not exist (an unknown game slug)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
