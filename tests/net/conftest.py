"""Fixtures that run the real ``sockweb echo`` command lines in subprocesses on 127.0.0.1."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ECHO = [sys.executable, "-m", "sockweb", "echo"]
START_TIMEOUT = 20.0
# "[2026-11-21T20:38:02.123+01:00] message"
REPLY = re.compile(rb"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\] (.*)\n$", re.DOTALL)


def reply_text(line: bytes) -> bytes:
    """The message part of one reply line; fails the test when the line is not a well-formed reply."""
    match = REPLY.match(line)
    assert match, f"not a timestamped reply: {line!r}"
    return match.group(1)


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str  # what the server printed: tcp://127.0.0.1:PORT, udp://..., unix:PATH
    log: Path

    @property
    def address(self) -> str:
        return self.url.split("://", 1)[1] if "://" in self.url else self.url

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, bytes]:
        """Send ``sig`` and wait for the exit; returns (exit status, the rest of stdout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            pytest.fail(f"server did not stop within {timeout} s after signal {sig}")
        return self.proc.returncode, rest

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def _first_line(proc: subprocess.Popen[bytes]) -> bytes:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(START_TIMEOUT):
            proc.kill()
            pytest.fail("server printed nothing within the start timeout")
    return proc.stdout.readline()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """start_server("tcp", "--mode", "threaded", bind="127.0.0.1:0") -> a running Server, stopped afterwards."""
    servers: list[Server] = []

    def start(protocol: str, *options: str, bind: str = "127.0.0.1:0") -> Server:
        log = tmp_path / f"server{len(servers)}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [*ECHO, protocol, "server", "--bind", bind, *options],
                stdout=subprocess.PIPE,
                stderr=err,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        server = Server(proc, "", log)
        servers.append(server)
        line = _first_line(proc).decode().strip()
        assert line.startswith("listening on "), f"unexpected first line {line!r}; stderr: {server.stderr()}"
        server.url = line.removeprefix("listening on ")
        return server

    yield start
    for server in servers:
        if server.proc.poll() is None:
            server.stop()
        assert "Traceback" not in server.stderr(), server.stderr()


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: str


def run_client(protocol: str, *args: str, stdin: bytes | None = None, timeout: float = 30.0) -> Result:
    proc = subprocess.run(
        [*ECHO, protocol, "client", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


@pytest.fixture
def client() -> Callable[..., Result]:
    """client("tcp", ADDRESS, "--message", "hi") runs the real client CLI and returns its Result."""
    return run_client


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now (bound then closed)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> Callable[[socket.SocketKind], int]:
    return free_port


@pytest.fixture
def parse_reply() -> Callable[[bytes], bytes]:
    return reply_text
