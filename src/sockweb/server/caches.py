"""The caches of the request path that the server owns, each an object with a name, a bound and an
invalidation rule (docs/server.md lists every cache of the request path in one table).

Strategy: the objects are thin on purpose. The hot path reads their fields directly where a method call
would cost more than the lookup it wraps (`HeadCache.last` is compared before any hashing); what a
cache keeps, how much and until when is written here once. Each cache has a differential test that holds
the cached path equal to the plain one: tests/server/test_head_memo.py (`EnvironMemo`, with the parser's
HeadMemo), tests/server/test_head_cache.py (`HeadCache`) and tests/server/h2/test_units.py (`H2HeadCache`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sockweb.http import Request, ResponsePlan
    from sockweb.server.h2stream import H2Head
    from sockweb.server.wsgi import Environ

__all__ = ["HEAD_CACHE_SIZE", "EnvironMemo", "H2HeadCache", "HeadCache"]

HEAD_CACHE_SIZE = 256


class EnvironMemo:
    """The part of a repeated head's environ that its listener and its head decide.

    Key: the id of a Request kept by the parser's HeadMemo; each entry holds that Request, so the id stays
    its own while the entry lives, and the listener's template it was built for (a hit for another
    listener is a miss). Bound: `limit` entries (``--head-memo``); emptied at once when full. Invalidation:
    none needed, an entry depends only on the head's bytes and the template, both kept in it.
    """

    __slots__ = ("entries", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: dict[int, tuple[Request, Environ, Environ, bool]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, req: Request, template: Environ) -> tuple[Environ, bool] | None:
        """(a copy of the environ kept for `req` on `template`'s listener, forwarded) or None."""
        hit = self.entries.get(id(req))
        if hit is not None and hit[1] is template:
            return hit[2].copy(), hit[3]
        return None

    def keep(self, req: Request, template: Environ, environ: Environ, forwarded: bool) -> None:
        """Keep a copy of `environ` (before REMOTE_* and proxy fixes) for `req` on `template`'s listener."""
        entries = self.entries
        if len(entries) >= self.limit:
            entries.clear()
        entries[id(req)] = (req, template, environ.copy(), forwarded)


class HeadCache:
    """Planned HTTP/1.1 response heads by what decides them.

    Key: (status, header tuple, body length, method, version, client's keep-alive, server's keep-alive);
    `last` holds the head planned last with its key as compared (the app's header list), tried before
    hashing. Bound: `limit` heads; beyond it new heads are planned but not kept. Invalidation: `clear()`
    every second with the Date line they contain (ServerState's sweeper). Off with ``--trace`` (its
    heads carry per-request timings).
    """

    __slots__ = ("last", "limit", "plans")

    def __init__(self, limit: int = HEAD_CACHE_SIZE) -> None:
        self.limit = limit
        self.plans: dict[tuple[Any, ...], ResponsePlan] = {}
        self.last: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return len(self.plans)

    def clear(self) -> None:
        self.last = None
        if self.plans:
            self.plans.clear()


class H2HeadCache:
    """Planned HTTP/2 response fields by what decides them (`H2Stream.plan_head`).

    Key: (status, header tuple, body length, whether the request is HEAD); value: the `H2Head`, whose
    field list the streams that send it share (h2 only reads it). Bound: `limit` heads; beyond it new
    heads are planned but not kept. Invalidation: `clear()` every second with the Date field they contain
    (ServerState's sweeper). Off with ``--trace`` (its heads carry per-request timings).
    """

    __slots__ = ("limit", "plans")

    def __init__(self, limit: int = HEAD_CACHE_SIZE) -> None:
        self.limit = limit
        self.plans: dict[tuple[Any, ...], H2Head] = {}

    def __len__(self) -> int:
        return len(self.plans)

    def keep(self, key: tuple[Any, ...], head: H2Head) -> None:
        if len(self.plans) < self.limit:
            self.plans[key] = head

    def clear(self) -> None:
        if self.plans:
            self.plans.clear()
