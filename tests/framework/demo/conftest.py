"""Fixtures for Shortly: storages (SQLite in a temporary folder, a real redis-server) and the app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sockweb.framework import App
from sockweb.framework.demo.app import create_app
from sockweb.framework.demo.storage import RedisStorage, SQLiteStorage, Storage

START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _need(binary: str, what: str) -> str:
    """The path of ``binary``; skip when it is absent, unless running under CI (then it must be there)."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is required under CI ({what})")
        pytest.skip(f"{binary} is not installed ({what})")
    return path


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 and a free port, for the whole session; stopped at the end."""
    binary = _need("redis-server", "Shortly's Redis storage")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start (exit status {proc.poll()})")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Each storage backend in turn, empty."""
    if request.param == "sqlite":
        store: Storage = SQLiteStorage(tmp_path / "shortly.db")
    else:
        url = request.getfixturevalue("redis_url")
        # A fresh key prefix per test: the tests share one server and must not see each other's links.
        store = RedisStorage(url, prefix=f"test:{request.node.name}:{time.monotonic_ns()}:")
    yield store
    store.close()


@pytest.fixture
def app(storage: Storage) -> App:
    application = create_app(storage)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: App):
    return app.test_client()
