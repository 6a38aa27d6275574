"""``sockweb echo udp``: the real server and client CLIs over 127.0.0.1 (and unix datagram sockets)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import pytest

ECHO = [sys.executable, "-m", "sockweb", "echo"]
IO_TIMEOUT = 15.0


def test_client_cli_gets_timestamped_replies(start_server, client, parse_reply) -> None:
    server = start_server("udp")
    assert server.url.startswith("udp://127.0.0.1:")
    result = client("udp", server.address, "--message", "héllo", "--count", "3")
    assert result.returncode == 0, result.stderr
    assert [parse_reply(line) for line in result.stdout.splitlines(keepends=True)] == ["héllo".encode()] * 3

    result = client("udp", server.address, stdin=b"one\ntwo\n\nnever sent\n")
    assert result.returncode == 0, result.stderr
    assert [parse_reply(line) for line in result.stdout.splitlines(keepends=True)] == [b"one", b"two"]


def test_fifty_clients_and_binary_datagrams(start_server, parse_reply) -> None:
    server = start_server("udp")
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(50)]
    try:
        for n, sock in enumerate(socks):
            sock.settimeout(IO_TIMEOUT)
            sock.connect(server.host_port)
            sock.send(f"datagram {n}\r\n".encode() + bytes([n, 0xFF]))
        for n, sock in enumerate(socks):
            expected = f"datagram {n}\r\n".encode() + bytes([n, 0xFF])
            assert parse_reply(sock.recv(65536)) == expected.decode("utf-8", "replace").encode()
    finally:
        for sock in socks:
            sock.close()


def test_oversize_datagram_gets_an_error_reply(start_server, client, parse_reply) -> None:
    server = start_server("udp", "--max-size", "100")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(IO_TIMEOUT)
        sock.connect(server.host_port)
        sock.send(b"a" * 100)
        assert parse_reply(sock.recv(65536)) == b"a" * 100
        sock.send(b"b" * 101)
        assert sock.recv(65536) == b"error: datagram larger than 100 bytes; dropped\n"
    result = client("udp", server.address, "--message", "c" * 5000)
    assert result.returncode == 1
    assert result.stdout == b"error: datagram larger than 100 bytes; dropped\n"


def test_a_message_too_large_for_a_datagram_is_one_clear_line(start_server, client) -> None:
    server = start_server("udp")
    result = client("udp", server.address, "--message", "x" * 70_000)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot send to {server.url}: the message is 70,000 bytes, more than one datagram can carry\n"
    )


def test_lost_datagrams_are_reported_not_waited_for(client) -> None:
    # A bound socket that never answers: every datagram is "lost".
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        port = black_hole.getsockname()[1]
        result = client(
            "udp", f"127.0.0.1:{port}", "--message", "hello?", "--timeout", "0.2", "--retries", "2"
        )
        received = 0
        black_hole.setblocking(False)
        try:
            while black_hole.recv(100) == b"hello?":
                received += 1
        except BlockingIOError:
            pass
    assert result.returncode == 1
    assert received == 3  # the first try and two retries
    lines = result.stderr.splitlines()
    assert lines[:2] == [f"no reply from udp://127.0.0.1:{port} within 0.2 s; sending again"] * 2
    assert lines[2:] == [
        f"error: datagram lost: no reply from udp://127.0.0.1:{port} after 3 attempts (0.2 s each)"
    ]


def test_a_retry_recovers_a_lost_datagram(client) -> None:
    # A flaky server: it drops the first datagram and answers the next ones.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flaky:
        flaky.bind(("127.0.0.1", 0))
        flaky.settimeout(IO_TIMEOUT)
        port = flaky.getsockname()[1]

        def serve() -> None:
            flaky.recvfrom(100)  # lost
            data, peer = flaky.recvfrom(100)
            flaky.sendto(b"[2026-01-01T00:00:00.000+00:00] " + data + b"\n", peer)

        thread = threading.Thread(target=serve)
        thread.start()
        result = client("udp", f"127.0.0.1:{port}", "--message", "again", "--timeout", "1", "--retries", "3")
        thread.join(IO_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"[2026-01-01T00:00:00.000+00:00] again\n"
    assert "sending again" in result.stderr


def test_server_absent_is_one_clear_line(client, closed_port) -> None:
    port = closed_port(socket.SOCK_DGRAM)
    result = client("udp", f"127.0.0.1:{port}", "--message", "anyone?", "--timeout", "5")
    assert result.returncode == 1
    # On the same host the kernel answers "port unreachable" at once, which the connected client sees.
    assert result.stderr == f"error: no server at udp://127.0.0.1:{port} (connection refused)\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(sig, start_server, client) -> None:
    server = start_server("udp")
    assert client("udp", server.address, "--message", "hi").returncode == 0
    code, rest = server.stop(sig)
    assert (code, rest) == (0, b"stopped\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the client relies on Linux autobind")
def test_unix_datagram_socket(start_server, client, parse_reply, tmp_path) -> None:
    path = tmp_path / "echo.sock"
    server = start_server("udp", bind=f"unix:{path}")
    result = client("udp", f"unix:{path}", "--message", "unix datagram")
    assert result.returncode == 0, result.stderr
    assert parse_reply(result.stdout) == b"unix datagram"
    assert server.stop()[0] == 0
    assert not path.exists()


@pytest.mark.parametrize(("option", "value"), [("--max-size", "70000"), ("--max-size", "0")])
def test_bad_size_is_a_usage_error(option, value) -> None:
    proc = subprocess.run([*ECHO, "udp", "server", option, value], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "--max-size" in proc.stderr
