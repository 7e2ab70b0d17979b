"""Reading boards through the service in tests, without the rate limit getting in the way."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from apps.common.rate_limits import RateLimitCount
from apps.tournaments.boards import BoardRef
from apps.tournaments.services.board_cache import store
from apps.tournaments.services.board_documents import PageSpec
from apps.tournaments.services.leaderboard_service import BoardPage, read_board_page


def unlimited_count() -> RateLimitCount:
    """A count of its own with a limit no test reaches."""
    now = time.time()
    return RateLimitCount(f"rl:v1:test:{uuid.uuid4().hex}", 10**9, now, f"{now:.6f}")


def read(board: BoardRef, page: PageSpec | None = None, *, user_id: int = 1) -> BoardPage:
    return read_board_page(board, page or PageSpec(), user_id=user_id, count=unlimited_count())


def body(page: BoardPage) -> dict[str, Any]:
    return json.loads(page.body)


def is_cached(board: BoardRef) -> bool:
    """Whether the board's document is in the cache under its current version."""
    return store.read(board, None).document is not None
