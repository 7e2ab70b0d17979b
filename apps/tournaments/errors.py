"""The leaderboards' own not-found answers; each carries its status and error code."""

from __future__ import annotations

from apps.common.errors import ErrorCode, NotFoundError


class TournamentNotFoundError(NotFoundError):
    error_code = ErrorCode.TOURNAMENT_NOT_FOUND

    @classmethod
    def for_id(cls, tournament_id: int) -> TournamentNotFoundError:
        """The one answer for a missing and for a hidden (draft) tournament: same words."""
        return cls(f"No tournament with id {tournament_id}.")


class ParticipantNotFoundError(NotFoundError):
    error_code = ErrorCode.PARTICIPANT_NOT_FOUND


class SeasonNotFoundError(NotFoundError):
    error_code = ErrorCode.SEASON_NOT_FOUND


class PageNotFoundError(NotFoundError):
    """A page past the last one (NOT_FOUND)."""
