"""The link stores behind Shortly: the same contract for SQLite and Redis, plus each one's specifics."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sockweb.framework.demo.storage import (
    MAX_ID,
    Link,
    RedisStorage,
    SQLiteStorage,
    StorageError,
    default_db_path,
    from_base62,
    open_storage,
    to_base62,
)


@pytest.mark.parametrize(("number", "text"), [(0, "0"), (1, "1"), (61, "Z"), (62, "10"), (3843, "ZZ")])
def test_base62(number: int, text: str) -> None:
    assert to_base62(number) == text
    assert from_base62(text) == number


@pytest.mark.parametrize("text", ["", "01", "a-b", "a+", "é", "Z" * 12])
def test_base62_rejects_non_canonical_ids(text: str) -> None:
    assert from_base62(text) is None


# Strings that name no link: each must be a miss for both backends, never an error from the database.
BAD_IDS = [
    "",  # empty
    "+",
    "nonexistent",  # 11 letters of the alphabet, but above what a 64-bit integer holds
    "zzzzzzzzzzz",  # the largest 11-digit id
    to_base62(MAX_ID + 1),  # the first id out of range
    "Z" * 12,  # too long
    "9" * 40,
    "1" * 10_000,  # huge
    "01",  # not canonical (a leading zero)
    "a-b",  # outside the alphabet
    "a.b",
    "a b",
    "a/b",
    "%41",
    "\x00",
    "é",  # unicode
    "١٢",  # Arabic-Indic digits: str.isdigit() says yes, the alphabet says no
    "\uff5a",  # a fullwidth z
    "\udcff",  # a lone surrogate (what surrogateescape makes of a stray byte)
]


@pytest.mark.parametrize("text", BAD_IDS)
def test_base62_decodes_only_ids_a_storage_can_hold(text: str) -> None:
    assert from_base62(text) is None


def test_base62_range_ends_at_the_largest_64_bit_integer() -> None:
    assert from_base62(to_base62(MAX_ID)) == MAX_ID
    assert from_base62(to_base62(MAX_ID + 1)) is None


@pytest.mark.parametrize("text", [*BAD_IDS, to_base62(MAX_ID)])
def test_bad_ids_are_a_miss(storage, text: str) -> None:
    storage.add("https://example.com/")
    assert storage.get(text) is None
    assert storage.click(text) is None


def test_contract(storage) -> None:
    assert storage.recent() == []
    assert storage.get("1") is None
    assert storage.click("1") is None
    first = storage.add("https://example.com/a")
    assert (first.url, first.clicks) == ("https://example.com/a", 0)
    assert storage.add("https://example.com/a") == first
    second = storage.add("https://example.com/b")
    assert second.short_id != first.short_id
    assert storage.get(first.short_id) == first
    clicked = storage.click(first.short_id)
    assert clicked is not None and clicked.clicks == 1
    assert [link.short_id for link in storage.recent()] == [second.short_id, first.short_id]
    assert [link.short_id for link in storage.recent(1)] == [second.short_id]
    assert storage.get("not an id") is None


def test_clicks_from_many_threads_are_all_counted(storage) -> None:
    link = storage.add("https://example.com/popular")
    errors: list[BaseException] = []

    def visit() -> None:
        try:
            for _ in range(25):
                storage.click(link.short_id)
            storage.add("https://example.com/popular")  # concurrent adds of one URL: still one link
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert storage.get(link.short_id).clicks == 200
    assert len(storage.recent()) == 1


def test_sqlite_file_and_folder_are_created_on_first_run(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "shortly.db"
    store = SQLiteStorage(path)
    store.add("https://example.com/")
    store.close()
    assert path.is_file()
    again = SQLiteStorage(path)  # the links survive a restart
    assert [link.url for link in again.recent()] == ["https://example.com/"]
    again.close()


def test_default_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "sockweb" / "shortly.db"
    store = open_storage()
    assert isinstance(store, SQLiteStorage) and store.path == default_db_path()
    store.close()
    assert default_db_path().is_file()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "sockweb" / "shortly.db"


def test_without_a_usable_data_folder_the_default_is_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    monkeypatch.chdir(tmp_path)
    store = open_storage()
    assert isinstance(store, SQLiteStorage) and store.path == tmp_path / "shortly.db"
    store.close()
    assert (tmp_path / "shortly.db").is_file()
    # When the current folder is unusable too, the error names the preferred place.
    (tmp_path / "shortly.db").unlink()
    (tmp_path / "shortly.db").mkdir()
    with pytest.raises(StorageError, match="not-a-folder"):
        open_storage()


def test_unusable_database_path_is_one_readable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot open the database"):
        SQLiteStorage(blocker / "shortly.db")
    not_sqlite = tmp_path / "garbage.db"
    not_sqlite.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open the database"):
        SQLiteStorage(not_sqlite)


def test_unreachable_redis_is_one_readable_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StorageError, match="cannot use Redis"):
        RedisStorage(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(StorageError, match="cannot use Redis"):
        RedisStorage("not-a-redis-url")


@pytest.mark.redis
def test_redis_storage_uses_its_prefix_only(redis_url: str) -> None:
    import redis

    store = RedisStorage(redis_url, prefix="prefix-test:")
    store.add("https://example.com/")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = client.keys("prefix-test:*")
    assert keys and all(key.startswith("prefix-test:") for key in keys)
    client.delete(*keys)
    client.close()
    store.close()


@pytest.mark.redis
def test_redis_claims_a_url_only_once_its_link_exists(redis_url: str) -> None:
    # A request that loses the race for a URL reads the winner's link: it must be there at claim time.
    store = RedisStorage(redis_url, prefix=f"claim:{time.monotonic_ns()}:")
    real_set = store._redis.set
    claims: list[str] = []

    def checking_set(name: str, value: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith(store._key("by-url")):
            assert store._redis.exists(store._key("link", value)), "URL claimed before its link exists"
            claims.append(value)
        return real_set(name, value, *args, **kwargs)

    store._redis.set = checking_set  # type: ignore[method-assign]
    link = store.add("https://example.com/claimed")
    assert claims == [link.short_id]
    store.close()


@pytest.mark.redis
def test_redis_loser_of_a_race_returns_the_winners_link(redis_url: str) -> None:
    prefix = f"race:{time.monotonic_ns()}:"
    loser, winner = RedisStorage(redis_url, prefix=prefix), RedisStorage(redis_url, prefix=prefix)
    real_set = loser._redis.set
    won: list[Link] = []

    def set_after_the_winner(name: str, value: str, *args: Any, **kwargs: Any) -> Any:
        if not won:  # the other request shortens the same URL between our lookup and our claim
            won.append(winner.add("https://example.com/raced"))
        return real_set(name, value, *args, **kwargs)

    loser._redis.set = set_after_the_winner  # type: ignore[method-assign]
    assert loser.add("https://example.com/raced") == won[0]
    assert [link.short_id for link in winner.recent()] == [won[0].short_id]
    assert loser._redis.keys(prefix + "link:*") == [prefix + "link:" + won[0].short_id]  # no orphan
    loser.close()
    winner.close()
