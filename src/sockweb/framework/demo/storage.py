"""Where Shortly keeps its links: a small interface, with SQLite (default) and Redis behind it.

Short ids are the base-62 spelling of a counter (1 -> "1", 62 -> "10"): unique without a retry loop, and
short. Shortening a URL that is already stored returns its existing link, so a URL has one short id.

Concurrency: the server calls the app from several threads (and ``--workers`` processes), so

* :class:`SQLiteStorage` opens one connection per thread *and process* (a connection must not cross a
  ``fork()``), uses WAL journaling so readers do not block the writer, a busy timeout so writers from
  several processes wait for each other instead of failing, and single statements (``INSERT OR IGNORE``,
  ``UPDATE ... SET clicks = clicks + 1``) so every change is atomic;
* :class:`RedisStorage` relies on Redis' atomic commands (``INCR``, ``SET NX``, ``HINCRBY``).
"""

from __future__ import annotations

import os
import sqlite3
import string
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis
    from redis.typing import EncodableT

__all__ = [
    "MAX_ID",
    "Link",
    "RedisStorage",
    "SQLiteStorage",
    "Storage",
    "StorageError",
    "default_db_path",
    "from_base62",
    "open_storage",
    "to_base62",
]

ALPHABET = string.digits + string.ascii_letters
RECENT_LIMIT = 100
# The largest id either backend can hold: SQLite's INTEGER and Redis' INCR counter are signed 64-bit.
MAX_ID = 2**63 - 1
# Its base-62 spelling has 11 digits: a longer id is out of range without decoding it.
MAX_ID_LENGTH = 11


class StorageError(Exception):
    """The storage cannot be opened or reached; ``str()`` is one readable line."""


@dataclass(frozen=True)
class Link:
    short_id: str
    url: str
    clicks: int
    created: float  # seconds since the epoch


class Storage(Protocol):
    """What the app needs from a link store. Every method is safe to call from many threads."""

    def add(self, url: str) -> Link:
        """Store ``url`` (or find it) and return its link."""
        ...

    def get(self, short_id: str) -> Link | None: ...

    def click(self, short_id: str) -> Link | None:
        """Count one visit; the link after counting, or None when there is no such link."""
        ...

    def recent(self, limit: int = 10) -> list[Link]:
        """The newest links first."""
        ...

    def close(self) -> None:
        """Release every connection (at shutdown)."""
        ...


def to_base62(number: int) -> str:
    if number < 0:
        raise ValueError("negative number")
    digits = []
    while True:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
        if not number:
            return "".join(reversed(digits))


def from_base62(text: str) -> int | None:
    """The number a short id spells, or None when it is not a canonical base-62 number that a storage can
    hold (0 to :data:`MAX_ID`). Every lookup goes through here, so any other string is a miss (a 404),
    never an error from the database."""
    if not text or len(text) > MAX_ID_LENGTH or (len(text) > 1 and text[0] == "0"):
        return None
    number = 0
    for char in text:
        digit = ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * 62 + digit
    # 11 digits reach 62**11 - 1, above what SQLite binds (OverflowError) and Redis counts to.
    return number if number <= MAX_ID else None


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/sockweb/shortly.db``, or ``~/.local/share/sockweb/shortly.db``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sockweb" / "shortly.db"


# --- SQLite --------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    clicks INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
)
"""


class SQLiteStorage:
    """Links in one SQLite file (created with its folder on first use).

    Each thread gets its own connection, kept in a dict keyed by thread id and process id (a thread that
    ends leaves its connection to the next thread that gets its id: sequential, never shared at once).
    ``close()`` closes them all, at shutdown.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conns: dict[tuple[int, int], sqlite3.Connection] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # This connection is closed at once: it must not be inherited by forked workers.
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the database {str(self.path)!r}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        # Autocommit (every statement is its own transaction); check_same_thread=False only so that
        # close() may close other threads' connections: each one is used by its own thread.
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        key = (os.getpid(), threading.get_ident())
        conn = self._conns.get(key)
        if conn is None:
            conn = self._connect()
            with self._lock:
                self._conns[key] = conn
        return conn

    def add(self, url: str) -> Link:
        conn = self._conn
        conn.execute("INSERT OR IGNORE INTO links (url, created) VALUES (?, ?)", (url, time.time()))
        row = conn.execute("SELECT * FROM links WHERE url = ?", (url,)).fetchone()
        return _link(row)

    def get(self, short_id: str) -> Link | None:
        number = from_base62(short_id)
        if number is None:
            return None
        row = self._conn.execute("SELECT * FROM links WHERE id = ?", (number,)).fetchone()
        return None if row is None else _link(row)

    def click(self, short_id: str) -> Link | None:
        number = from_base62(short_id)
        if number is None:
            return None
        conn = self._conn
        conn.execute("UPDATE links SET clicks = clicks + 1 WHERE id = ?", (number,))
        row = conn.execute("SELECT * FROM links WHERE id = ?", (number,)).fetchone()
        return None if row is None else _link(row)

    def recent(self, limit: int = 10) -> list[Link]:
        rows = self._conn.execute("SELECT * FROM links ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_link(row) for row in rows]

    def close(self) -> None:
        """Close every connection this process opened (at shutdown)."""
        pid = os.getpid()
        with self._lock:
            mine = [key for key in self._conns if key[0] == pid]
            conns = [self._conns.pop(key) for key in mine]
        for conn in conns:
            conn.close()


def _link(row: sqlite3.Row) -> Link:
    return Link(to_base62(row["id"]), row["url"], row["clicks"], row["created"])


# --- Redis ---------------------------------------------------------------------------------------------


class RedisStorage:
    """Links in Redis under ``prefix``: a counter, a hash per link, a URL index and a capped recent list."""

    def __init__(self, url: str, prefix: str = "shortly:") -> None:
        try:
            import redis
        except ImportError:
            raise StorageError("--redis needs the redis package: pip install 'sockweb[redis]'") from None
        self.prefix = prefix
        try:
            self._redis: redis.Redis = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
            )
            self._redis.ping()
        except (ValueError, redis.RedisError) as exc:
            raise StorageError(f"cannot use Redis at {url}: {exc}") from None

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def add(self, url: str) -> Link:
        existing = self._redis.get(self._key("by-url", url))
        if existing is not None:
            link = self.get(_text(existing))
            if link is not None:
                return link
        short_id = to_base62(int(self._redis.incr(self._key("next"))))
        created = time.time()
        link_key, url_key = self._key("link", short_id), self._key("by-url", url)
        fields: dict[EncodableT, EncodableT] = {
            "url": url,
            "clicks": 0,
            "created": repr(created),
        }
        # When two requests shorten the same URL at once, one id wins, as in SQLite. Each writes its link
        # *before* claiming the URL, so the loser of the claim can always read the winner's link.
        self._redis.hset(link_key, mapping=fields)
        if not self._redis.set(url_key, short_id, nx=True):
            self._redis.delete(link_key)
            winner = self._redis.get(url_key)
            link = self.get(_text(winner)) if winner is not None else None
            if link is not None:
                return link
            # The winner's keys were deleted meanwhile (by hand): take the URL over.
            self._redis.hset(link_key, mapping=fields)
            self._redis.set(url_key, short_id)
        pipe = self._redis.pipeline()
        pipe.lpush(self._key("recent"), short_id)
        pipe.ltrim(self._key("recent"), 0, RECENT_LIMIT - 1)
        pipe.execute()
        return Link(short_id, url, 0, created)

    def get(self, short_id: str) -> Link | None:
        if from_base62(short_id) is None:
            return None
        data = self._redis.hgetall(self._key("link", short_id))
        return _redis_link(short_id, {_text(k): _text(v) for k, v in data.items()})

    def click(self, short_id: str) -> Link | None:
        if from_base62(short_id) is None or not self._redis.exists(self._key("link", short_id)):
            return None
        self._redis.hincrby(self._key("link", short_id), "clicks", 1)
        return self.get(short_id)

    def recent(self, limit: int = 10) -> list[Link]:
        ids = self._redis.lrange(self._key("recent"), 0, limit - 1)
        links = (self.get(_text(short_id)) for short_id in ids)
        return [link for link in links if link is not None]

    def close(self) -> None:
        self._redis.close()


def _text(value: object) -> str:
    """A Redis reply as str (the client decodes replies; bytes only if it was built without that)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise StorageError(f"unexpected reply from Redis: {value!r}")


def _redis_link(short_id: str, data: dict[str, str]) -> Link | None:
    if "url" not in data:
        return None
    return Link(short_id, data["url"], int(data.get("clicks", 0)), float(data.get("created", 0)))


def open_storage(db: str | os.PathLike[str] | None = None, redis_url: str | None = None) -> Storage:
    """Redis when ``redis_url`` is given, else SQLite at ``db``; without ``db``, at :func:`default_db_path`,
    or ``./shortly.db`` when the user data folder cannot be used (a service account without a home)."""
    if redis_url:
        return RedisStorage(redis_url)
    if db is not None:
        return SQLiteStorage(db)
    try:
        return SQLiteStorage(default_db_path())
    except StorageError as first:
        try:
            return SQLiteStorage(Path.cwd() / "shortly.db")
        except StorageError:
            raise first from None
