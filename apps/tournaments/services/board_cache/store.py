"""The board store in Redis (layout in `keys.py`).

Reads and stores fail open: a failing Redis reads as "unknown" (`CacheRead(version=None)`) and a
store is skipped (`redis_gateway.safe_redis_call`). Invalidation and key listing need Redis and
raise `RedisUnavailableError`.

Why hand-written rather than Django's cache API: "store only if the version is unchanged", pages
as fields of one hash per board, and SCAN by scope are a few lines of Lua and redis-py here and
cannot be said through `cache.get` / `cache.set`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import redis

from apps.common.metrics import RedisOperation
from apps.common.rate_limits import RateLimitCount, RateLimitResult
from apps.common.redis_gateway import require_redis, safe_redis_call
from apps.tournaments.boards import BoardRef, Scope
from apps.tournaments.services.board_cache.keys import (
    APPLIED_TTL_SECONDS,
    DOCUMENT_FIELD,
    KEY_PREFIX,
    LOCK_TTL_SECONDS,
    MAX_PAGES_PER_BOARD,
    VERSION_FIELD,
    VERSION_PREFIX,
    CacheRead,
    applied_key,
    board_key,
    cache_ttl_seconds,
    lock_key,
    new_version,
    scope_pattern,
    version_key,
)

# A document is stored only under the board's current version; a hash left from an older
# version is emptied first. A past state (any field but 'doc') is refused once the hash is full.
# The version key's TTL is renewed with the hash's, so both expire together.
_STORE_DOCUMENT_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], 'ver') ~= ARGV[1] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'ver', ARGV[1])
end
if ARGV[2] ~= 'doc' and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""

_STORE_PAGE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], 'ver') ~= ARGV[1] then return 0 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


def _queue_read(pipe: redis.client.Pipeline, board: BoardRef, field: str) -> None:
    pipe.get(version_key(board.name))
    pipe.hmget(board_key(board.name), [VERSION_FIELD, field])


def _read_result(client: redis.Redis, board: BoardRef, field: str, replies: list[Any]) -> CacheRead:
    """The replies of `_queue_read` as a CacheRead: what `field` holds under the current version.
    A board without a version (first read, expired, invalidated, Redis lost its data) gets a new
    one here (SET NX, so concurrent readers agree)."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    current, (stored_version, stored) = _text(replies[0]), replies[1]
    if current is None:
        pipe = client.pipeline(transaction=False)
        pipe.set(version_key(board.name), new_version(), nx=True, ex=cache_ttl_seconds())
        pipe.get(version_key(board.name))
        return CacheRead(version=_text(pipe.execute()[1]))
    if _text(stored_version) != current:
        return CacheRead(version=current)
    if field == DOCUMENT_FIELD:
        return CacheRead(version=current, document=stored)
    return CacheRead(version=current, page=stored)


def read(board: BoardRef, page_field: str | None) -> CacheRead:
    """The board's current version and a page's bytes (or, without a page, its document)."""
    field = page_field or DOCUMENT_FIELD

    def call(client: redis.Redis) -> CacheRead:
        pipe = client.pipeline(transaction=False)
        _queue_read(pipe, board, field)
        return _read_result(client, board, field, pipe.execute(raise_on_error=False))

    return safe_redis_call(RedisOperation.GET, call, CacheRead(version=None))


def count_and_read_page(
    count: RateLimitCount, board: BoardRef, page_field: str
) -> tuple[RateLimitResult | None, CacheRead]:
    """Count a request against its rate limit and read a board page in ONE Redis round trip
    (the rate-limit script, GET of the version, HMGET of the page; pipelined). Fails open: with
    Redis failing, (None, unknown)."""

    def call(client: redis.Redis) -> tuple[RateLimitResult, CacheRead]:
        pipe = client.pipeline(transaction=False)
        count.queue(pipe)
        _queue_read(pipe, board, page_field)
        replies = pipe.execute(raise_on_error=False)
        return count.result(client, replies[0]), _read_result(
            client, board, page_field, replies[1:]
        )

    return safe_redis_call(RedisOperation.THROTTLE, call, (None, CacheRead(version=None)))


def read_document(board: BoardRef, version: str, field: str = DOCUMENT_FIELD) -> bytes | None:
    """A document of the board (`field`: now, or a past state) stored under `version`."""

    def call(client: redis.Redis) -> bytes | None:
        stored_version, document = client.hmget(board_key(board.name), [VERSION_FIELD, field])
        return document if _text(stored_version) == version else None

    return safe_redis_call(RedisOperation.GET, call, None)


def store_document(
    board: BoardRef, version: str, document: bytes, field: str = DOCUMENT_FIELD
) -> bool:
    """Store a document if `version` is still the board's version; False otherwise."""

    def call(client: redis.Redis) -> bool:
        script = client.register_script(_STORE_DOCUMENT_LUA)
        keys = [version_key(board.name), board_key(board.name)]
        args = [version, field, document, cache_ttl_seconds(), MAX_PAGES_PER_BOARD]
        return bool(script(keys=keys, args=args))

    return safe_redis_call(RedisOperation.SET, call, False)


def store_page(board: BoardRef, version: str, page_field: str, body: bytes) -> bool:
    """Store a page beside its document, under the same version, within MAX_PAGES_PER_BOARD."""

    def call(client: redis.Redis) -> bool:
        script = client.register_script(_STORE_PAGE_LUA)
        keys = [version_key(board.name), board_key(board.name)]
        return bool(script(keys=keys, args=[version, page_field, body, MAX_PAGES_PER_BOARD]))

    return safe_redis_call(RedisOperation.SET, call, False)


def try_lock(board: BoardRef, field: str = DOCUMENT_FIELD) -> Any:
    """The compute lock of a board's document (`field`), or None when another process holds it
    (or Redis fails)."""

    def call(client: redis.Redis) -> Any:
        lock = client.lock(lock_key(board, field), timeout=LOCK_TTL_SECONDS, blocking=False)
        return lock if lock.acquire(blocking=False) else None

    return safe_redis_call(RedisOperation.LOCK, call, None)


def release_lock(lock: Any) -> None:
    def call(client: redis.Redis) -> None:
        # Expired and maybe taken by another: nothing of ours to release.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()

    safe_redis_call(RedisOperation.LOCK, call, None)


def delete_boards(names: Iterable[str], *, applied_rows: Iterable[int] = ()) -> list[str]:
    """Delete these boards (hash and version key) and, after them in the same pipeline, mark
    `applied_rows` (pending invalidations) as applied; return the board keys that existed.
    Deleting the version makes any document computed before now unstorable and starts a new
    version, hence new ETags. Raises RedisUnavailableError."""
    ordered = sorted(set(names))
    markers = sorted(set(applied_rows))
    if not ordered and not markers:
        return []

    def call(client: redis.Redis) -> list[str]:
        pipe = client.pipeline(transaction=False)
        for name in ordered:
            pipe.delete(board_key(name))
            pipe.delete(version_key(name))
        for row_id in markers:  # after the deletions: Redis runs a pipeline in order
            pipe.set(applied_key(row_id), 1, ex=APPLIED_TTL_SECONDS)
        existed = pipe.execute()[0 : 2 * len(ordered) : 2]
        return [board_key(name) for name, gone in zip(ordered, existed, strict=True) if gone]

    return require_redis(RedisOperation.DELETE, call)


def applied_rows(row_ids: Iterable[int]) -> set[int]:
    """Which of these pending invalidations are marked applied. Raises RedisUnavailableError."""
    ordered = sorted(set(row_ids))
    if not ordered:
        return set()

    def call(client: redis.Redis) -> set[int]:
        found = client.mget([applied_key(row_id) for row_id in ordered])
        return {row_id for row_id, marker in zip(ordered, found, strict=True) if marker}

    return require_redis(RedisOperation.GET, call)


def _scan(prefixes: Iterable[str], scope: Scope | None) -> set[tuple[str, str]]:
    """(prefix, board name) of every key under these prefixes, of one scope or all. SCAN, never
    KEYS. Raises RedisUnavailableError."""
    scopes = [scope] if scope else list(Scope)
    patterns = [(prefix, scope_pattern(prefix, each)) for prefix in prefixes for each in scopes]

    def call(client: redis.Redis) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for prefix, pattern in patterns:
            for key in client.scan_iter(match=pattern, count=1000):
                found.add((prefix, (_text(key) or "")[len(prefix) :]))
        return found

    return require_redis(RedisOperation.SCAN, call)


def delete_scope(scope: Scope | None) -> list[str]:
    """Every board of a scope (None: all): live documents, and through their version keys the
    boards being computed right now (their late store will be refused)."""
    return delete_boards(name for _, name in _scan((KEY_PREFIX, VERSION_PREFIX), scope))


def board_keys(scope: Scope | None) -> list[str]:
    """The keys of the cached board hashes of a scope (None: all). Raises RedisUnavailableError."""
    return sorted(board_key(name) for _, name in _scan((KEY_PREFIX,), scope))


def ttl_seconds(key: str) -> int | None:
    remaining = safe_redis_call(RedisOperation.TTL, lambda client: client.ttl(key), None)
    if remaining is None or remaining < 0:
        return None
    return int(remaining)
