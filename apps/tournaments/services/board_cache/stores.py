"""The Redis board store (every call fails open), the page read that rides on the rate limit's
round trip, and the choice between Redis and the in-process store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import redis

from apps.common.redis_gateway import redis_client, require_redis, safe_redis_call
from apps.tournaments.services.board_cache.keys import (
    DOCUMENT_FIELD,
    KEY_PREFIX,
    LOCK_TTL_SECONDS,
    MAX_PAGES_PER_BOARD,
    VERSION_FIELD,
    VERSION_PREFIX,
    BoardRef,
    BoardStore,
    CacheRead,
    Scope,
    cache_ttl_seconds,
    new_version,
)
from apps.tournaments.services.board_cache.local import LocalBoardStore

# The version key's TTL is renewed with the document's, so both expire together: every key
# under lb:v1: lives at most LEADERBOARD_CACHE_TTL_SECONDS (locks: 10 s).
_STORE_DOCUMENT_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'ver', ARGV[1], 'doc', ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

_STORE_PAGE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], 'ver') ~= ARGV[1] then return 0 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


def _decode(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


class RedisBoardStore:
    """Boards in Redis; every call fails open through `safe_redis_call`."""

    def read(self, board: BoardRef, page_field: str | None) -> CacheRead:
        def call(client: redis.Redis) -> CacheRead:
            pipe = client.pipeline(transaction=False)
            self.queue_read(pipe, board, page_field)
            return self.finish_read(client, board, page_field, pipe.execute())

        return safe_redis_call("get", call, CacheRead(version=None))

    @staticmethod
    def queue_read(pipe: redis.client.Pipeline, board: BoardRef, page_field: str | None) -> int:
        """Queue a read's two commands on `pipe` (the rate limit's pipeline, or its own)."""
        pipe.get(board.version_key)
        pipe.hmget(board.key, [VERSION_FIELD, page_field or DOCUMENT_FIELD])
        return 2

    @staticmethod
    def finish_read(
        client: redis.Redis, board: BoardRef, page_field: str | None, replies: list[Any]
    ) -> CacheRead:
        """Turn the replies of `queue_read` into a CacheRead."""
        current, (stored_version, stored) = replies
        current = _decode(current)
        if current is None:
            # First read since the version expired or Redis lost its data: start one.
            pipe = client.pipeline(transaction=False)
            pipe.set(board.version_key, new_version(), nx=True, ex=cache_ttl_seconds())
            pipe.get(board.version_key)
            current = _decode(pipe.execute()[1])
            return CacheRead(version=current)
        if _decode(stored_version) != current:
            return CacheRead(version=current)
        if page_field is None:
            return CacheRead(version=current, document=stored)
        return CacheRead(version=current, page=stored)

    def read_document(self, board: BoardRef, version: str) -> bytes | None:
        def call(client: redis.Redis) -> bytes | None:
            stored_version, document = client.hmget(board.key, [VERSION_FIELD, DOCUMENT_FIELD])
            return document if _decode(stored_version) == version else None

        return safe_redis_call("get", call, None)

    def store_document(self, board: BoardRef, version: str, document: bytes) -> bool:
        def call(client: redis.Redis) -> bool:
            script = client.register_script(_STORE_DOCUMENT_LUA)
            keys = [board.version_key, board.key]
            return bool(script(keys=keys, args=[version, document, cache_ttl_seconds()]))

        return safe_redis_call("set", call, False)

    def store_page(self, board: BoardRef, version: str, page_field: str, body: bytes) -> bool:
        def call(client: redis.Redis) -> bool:
            script = client.register_script(_STORE_PAGE_LUA)
            keys = [board.version_key, board.key]
            args = [version, page_field, body, MAX_PAGES_PER_BOARD]
            return bool(script(keys=keys, args=args))

        return safe_redis_call("set", call, False)

    def try_lock(self, board: BoardRef) -> Any:
        def call(client: redis.Redis) -> Any:
            lock = client.lock(board.lock_key, timeout=LOCK_TTL_SECONDS, blocking=False)
            return lock if lock.acquire(blocking=False) else None

        return safe_redis_call("lock", call, None)

    def release_lock(self, lock: Any) -> None:
        def call(client: redis.Redis) -> None:
            # Expired and maybe taken by another: nothing of ours to release.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()

        safe_redis_call("lock", call, None)

    def invalidate(self, boards: Iterable[BoardRef]) -> list[str]:
        return self._invalidate_names({board.name for board in boards})

    def invalidate_scope(self, scope: Scope | None) -> list[str]:
        """Every board of the scope (None = all): live documents and, through their version
        keys, boards being computed right now (their late store will be refused)."""
        scopes = [scope] if scope else list(Scope)
        patterns = [
            f"{prefix}{each.value}:*" for each in scopes for prefix in (KEY_PREFIX, VERSION_PREFIX)
        ]

        def call(client: redis.Redis) -> set[str]:
            names: set[str] = set()
            for pattern in patterns:
                prefix = VERSION_PREFIX if pattern.startswith(VERSION_PREFIX) else KEY_PREFIX
                for key in client.scan_iter(match=pattern, count=1000):
                    names.add((_decode(key) or "")[len(prefix) :])
            return names

        return self._invalidate_names(require_redis("scan", call))

    def _invalidate_names(self, names: set[str]) -> list[str]:
        ordered = sorted(names)
        if not ordered:
            return []

        def call(client: redis.Redis) -> list[str]:
            # Deleting the version makes any document computed before now unstorable (its
            # writer checks the version it read) and starts a new version, hence new ETags.
            pipe = client.pipeline(transaction=False)
            for name in ordered:
                pipe.delete(f"{KEY_PREFIX}{name}")
                pipe.delete(f"{VERSION_PREFIX}{name}")
            results = pipe.execute()
            deleted = results[0::2]
            return [
                f"{KEY_PREFIX}{name}" for name, gone in zip(ordered, deleted, strict=True) if gone
            ]

        return require_redis("delete", call)

    def board_keys(self, scope: Scope | None) -> list[str]:
        patterns = (
            [f"{KEY_PREFIX}{scope.value}:*"]
            if scope
            else [f"{KEY_PREFIX}{each.value}:*" for each in Scope]
        )

        def call(client: redis.Redis) -> list[str]:
            found: set[str] = set()
            for pattern in patterns:
                for key in client.scan_iter(match=pattern, count=1000):
                    found.add(_decode(key) or "")
            return sorted(found)

        return require_redis("scan", call)

    def ttl_seconds(self, board: BoardRef) -> int | None:
        return self.ttl_of_key(board.key)

    def ttl_of_key(self, key: str) -> int | None:
        remaining = safe_redis_call("ttl", lambda client: client.ttl(key), None)
        if remaining is None or remaining < 0:
            return None
        return int(remaining)


_local_store = LocalBoardStore()
_redis_store = RedisBoardStore()


def board_store() -> BoardStore:
    """Redis when REDIS_URL is set, else the in-process store."""
    return _redis_store if redis_client() is not None else _local_store


def local_store() -> LocalBoardStore:
    return _local_store


class PageReadRider:
    """A page read that rides on the rate limit's pipeline (see `throttles.rate_limit`).

    `result` stays None when the ride did not happen (no Redis, Redis failing, the throttle
    skipped): the reader then reads on its own.
    """

    def __init__(self, board: BoardRef, page_field: str) -> None:
        self.board = board
        self.page_field = page_field
        self.result: CacheRead | None = None

    def queue(self, pipe: redis.client.Pipeline) -> int:
        return RedisBoardStore.queue_read(pipe, self.board, self.page_field)

    def finish(self, client: redis.Redis, replies: list[Any]) -> None:
        self.result = RedisBoardStore.finish_read(client, self.board, self.page_field, replies)

    def take(self, board: BoardRef, page_field: str) -> CacheRead | None:
        """The prefetched read when it is for this board and page; at most once."""
        if self.result is None or board != self.board or page_field != self.page_field:
            return None
        result, self.result = self.result, None
        return result
