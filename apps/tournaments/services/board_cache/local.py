"""The in-process board store (no REDIS_URL): the embedded default, one process only."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apps.tournaments.services.board_cache.keys import (
    KEY_PREFIX,
    MAX_PAGES_PER_BOARD,
    BoardRef,
    CacheRead,
    Scope,
    cache_ttl_seconds,
    new_version,
)


@dataclass(slots=True)
class _LocalEntry:
    version: str
    document: bytes
    expires_at: float
    pages: dict[str, bytes] = field(default_factory=dict)


class LocalBoardStore:
    """The same contract as RedisBoardStore, in a dict guarded by a lock."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._versions: dict[str, str] = {}
        self._entries: dict[str, _LocalEntry] = {}
        self._locks: dict[str, threading.Lock] = {}

    def clear(self) -> None:
        with self._mutex:
            self._versions.clear()
            self._entries.clear()
            self._locks.clear()

    def _live_entry(self, key: str) -> _LocalEntry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= time.monotonic():
            del self._entries[key]
            return None
        return entry

    def read(self, board: BoardRef, page_field: str | None) -> CacheRead:
        with self._mutex:
            current = self._versions.setdefault(board.key, new_version())
            entry = self._live_entry(board.key)
            if entry is None or entry.version != current:
                return CacheRead(version=current)
            if page_field is None:
                return CacheRead(version=current, document=entry.document)
            return CacheRead(version=current, page=entry.pages.get(page_field))

    def read_document(self, board: BoardRef, version: str) -> bytes | None:
        with self._mutex:
            entry = self._live_entry(board.key)
            return entry.document if entry is not None and entry.version == version else None

    def store_document(self, board: BoardRef, version: str, document: bytes) -> bool:
        with self._mutex:
            if self._versions.get(board.key) != version:
                return False
            expires_at = time.monotonic() + cache_ttl_seconds()
            self._entries[board.key] = _LocalEntry(version, document, expires_at)
            return True

    def store_page(self, board: BoardRef, version: str, page_field: str, body: bytes) -> bool:
        with self._mutex:
            entry = self._live_entry(board.key)
            if entry is None or entry.version != version:
                return False
            if self._versions.get(board.key) != version:
                return False
            if len(entry.pages) >= MAX_PAGES_PER_BOARD:
                return False
            entry.pages[page_field] = body
            return True

    def try_lock(self, board: BoardRef) -> Any:
        with self._mutex:
            lock = self._locks.setdefault(board.key, threading.Lock())
        return lock if lock.acquire(blocking=False) else None

    def release_lock(self, lock: Any) -> None:
        lock.release()

    def invalidate(self, boards: Iterable[BoardRef]) -> list[str]:
        return self._invalidate_keys({board.key for board in boards})

    def invalidate_scope(self, scope: Scope | None) -> list[str]:
        prefix = f"{KEY_PREFIX}{scope.value}:" if scope else KEY_PREFIX
        with self._mutex:
            keys = {key for key in [*self._versions, *self._entries] if key.startswith(prefix)}
        return self._invalidate_keys(keys)

    def _invalidate_keys(self, keys: set[str]) -> list[str]:
        removed: list[str] = []
        with self._mutex:
            for key in sorted(keys):
                self._versions[key] = new_version()
                if self._live_entry(key) is not None:
                    removed.append(key)
                self._entries.pop(key, None)
        return removed

    def board_keys(self, scope: Scope | None) -> list[str]:
        prefix = f"{KEY_PREFIX}{scope.value}:" if scope else KEY_PREFIX
        with self._mutex:
            return sorted(
                key
                for key in list(self._entries)
                if key.startswith(prefix) and self._live_entry(key) is not None
            )

    def ttl_seconds(self, board: BoardRef) -> int | None:
        return self.ttl_of_key(board.key)

    def ttl_of_key(self, key: str) -> int | None:
        with self._mutex:
            entry = self._live_entry(key)
            if entry is None:
                return None
            return max(0, int(entry.expires_at - time.monotonic()))
