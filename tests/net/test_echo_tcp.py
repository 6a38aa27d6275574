"""``sockweb echo tcp``: the real server (each --mode) and client CLIs, driven over 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading

import pytest

ECHO = [sys.executable, "-m", "sockweb", "echo"]
MODES = ["selectors", "threaded", "socketserver"]
IO_TIMEOUT = 15.0


def connect(server) -> socket.socket:
    return socket.create_connection(server.host_port, timeout=IO_TIMEOUT)


def read_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("mode", MODES)
def test_client_cli_gets_timestamped_replies(mode, start_server, client, parse_reply) -> None:
    server = start_server("tcp", "--mode", mode)
    result = client("tcp", server.address, "--message", "héllo wörld", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines(keepends=True)
    assert [parse_reply(line) for line in lines] == ["héllo wörld".encode()] * 3

    # Interactive use: one reply per stdin line, an empty line quits (the rest is never sent).
    result = client("tcp", server.address, stdin=b"one\r\ntwo\n\nthree\n")
    assert result.returncode == 0, result.stderr
    assert [parse_reply(line) for line in result.stdout.splitlines(keepends=True)] == [b"one", b"two"]


@pytest.mark.parametrize("mode", MODES)
def test_fifty_clients_at_once(mode, start_server, client, parse_reply) -> None:
    server = start_server("tcp", "--mode", mode)
    clients = 50
    # Every client connects before any sends, and holds its connection while the others talk: a server
    # that served one client at a time would leave the others waiting until the barrier times out.
    everyone_connected = threading.Barrier(clients, timeout=IO_TIMEOUT)
    everyone_answered = threading.Barrier(clients, timeout=IO_TIMEOUT)
    failures: list[BaseException] = []

    def talk(n: int) -> None:
        try:
            with connect(server) as sock, sock.makefile("rb") as reader:
                everyone_connected.wait()
                for i in range(5):
                    # Split each line over two sends: the server must reassemble the stream.
                    line = f"client {n} line {i}\n".encode()
                    sock.sendall(line[:5])
                    sock.sendall(line[5:])
                    assert parse_reply(reader.readline()) == f"client {n} line {i}".encode()
                    if i == 0:
                        # Nobody goes on until every client has had an answer: only a server that
                        # really serves them all at once gets past this point.
                        everyone_answered.wait()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    # Meanwhile a few real client processes join in.
    procs = [
        subprocess.Popen(
            [*ECHO, "tcp", "client", server.address, "--message", f"cli {n}", "--count", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    for thread in threads:
        thread.join(IO_TIMEOUT * 2)
    assert not failures, failures[:3]
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert [parse_reply(line) for line in out.splitlines(keepends=True)] == [f"cli {n}".encode()] * 2


@pytest.mark.parametrize("mode", MODES)
def test_oversized_line_gets_an_error_and_is_disconnected(mode, start_server, client, parse_reply) -> None:
    server = start_server("tcp", "--mode", mode, "--max-line", "1000")
    with connect(server) as sock:
        # A good line, one exactly at the limit, then one over it that never ends: the first two are
        # answered, then comes the error line, then the server closes, while the client is still sending.
        sock.sendall(b"fine\n" + b"x" * 1000 + b"\n" + b"y" * 5000)
        data = read_until_eof(sock)
    first, second, error, rest = data.split(b"\n", 3)
    assert parse_reply(first + b"\n") == b"fine"
    assert parse_reply(second + b"\n") == b"x" * 1000
    assert error == b"error: line longer than 1000 bytes; closing connection"
    assert rest == b""

    # The client CLI shows the error line and fails; the server keeps serving.
    result = client("tcp", server.address, "--message", "w" * 1001)
    assert result.returncode == 1
    assert result.stdout == b"error: line longer than 1000 bytes; closing connection\n"
    assert client("tcp", server.address, "--message", "still there").returncode == 0


@pytest.mark.parametrize("mode", MODES)
def test_binary_data_and_half_close(mode, start_server, parse_reply) -> None:
    server = start_server("tcp", "--mode", mode)
    every_byte = bytes(b for b in range(256) if b != 0x0A)
    with connect(server) as sock:
        sock.sendall(b"ok\r\n" + every_byte + b"\n" + b"\xff\xfe\x00bin")
        sock.shutdown(socket.SHUT_WR)  # half-close: "no more requests", but still reading replies
        lines = [line + b"\n" for line in read_until_eof(sock).split(b"\n")[:-1]]
    assert len(lines) == 3
    assert parse_reply(lines[0]) == b"ok"
    # Invalid UTF-8 comes back as U+FFFD: the reply is always valid UTF-8.
    assert parse_reply(lines[1]) == every_byte.decode("utf-8", "replace").encode()
    lines[1].decode("utf-8")
    # The unterminated last line is answered at end of input.
    assert parse_reply(lines[2]) == "\ufffd\ufffd\x00bin".encode()


@pytest.mark.parametrize("mode", MODES)
def test_vanishing_clients_do_not_hurt_the_server(mode, start_server, client) -> None:
    server = start_server("tcp", "--mode", mode)
    for _ in range(5):
        # Connects and leaves without a word.
        connect(server).close()
        # Leaves in the middle of a line.
        with connect(server) as sock:
            sock.sendall(b"half a li")
        # Floods the server with lines, never reads the replies, then resets the connection.
        sock = connect(server)
        sock.sendall(b"flood\n" * 2000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    result = client("tcp", server.address, "--message", "after the storm")
    assert result.returncode == 0, result.stderr
    assert server.proc.poll() is None
    # (The fixture also checks that the server logged no traceback.)


# A client that writes and never reads must be held back by TCP flow control (the server stops reading
# from it), not have its replies piled up in the server's memory.
HOG_LINE = b"x" * 1000 + b"\n"
HOG_LIMIT = 64 << 20  # bytes; the kernel buffers on both sides hold far less than this
STALL_SECONDS = 1.0  # the hog counts as held back once its socket stays unwritable this long


def _rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as file:
            status = file.read()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(kib) * 1024 if kib else None


@pytest.mark.parametrize("mode", MODES)
def test_a_client_that_never_reads_is_held_back_not_buffered(mode, start_server, client, parse_reply) -> None:
    server = start_server("tcp", "--mode", mode)
    rss_before = _rss_bytes(server.proc.pid)
    with connect(server) as hog:
        hog.setblocking(False)
        chunk = HOG_LINE * 64
        sent = 0
        while True:
            _, writable, _ = select.select([], [hog], [], STALL_SECONDS)
            if not writable:
                break
            assert sent < HOG_LIMIT, "the server kept reading from a client that never reads its replies"
            try:
                sent += hog.send(chunk)
            except BlockingIOError:
                continue
        # Held back, the hog does not hold up anyone else...
        result = client("tcp", server.address, "--message", "still served")
        assert result.returncode == 0, result.stderr
        assert parse_reply(result.stdout) == b"still served"
        # ...nor did it grow the server by what it sent (its replies would be larger still).
        rss_after = _rss_bytes(server.proc.pid)
        if rss_before is not None and rss_after is not None:
            assert rss_after - rss_before < 48 << 20
        # Its replies are intact, in order, once it reads.
        hog.setblocking(True)
        hog.settimeout(IO_TIMEOUT)
        with hog.makefile("rb") as replies:
            assert [parse_reply(replies.readline()) for _ in range(3)] == [HOG_LINE[:-1]] * 3
        # And a stop does not wait for the stuck client.
        code, rest = server.stop()
        assert (code, rest) == (0, b"stopped\n")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_clients_connected(mode, sig, start_server, parse_reply) -> None:
    server = start_server("tcp", "--mode", mode)
    with contextlib.ExitStack() as stack:
        idle, mid_line, talking = (stack.enter_context(connect(server)) for _ in range(3))
        mid_line.sendall(b"unfinished")
        talking.sendall(b"hi\n")
        assert parse_reply(stack.enter_context(talking.makefile("rb")).readline()) == b"hi"
        code, rest = server.stop(sig)
        assert code == 0
        assert rest == b"stopped\n"
        for sock in (idle, mid_line, talking):
            # The server closed them (no hang until the read timeout): EOF, or a reset when it closed
            # with the unfinished line still unread.
            try:
                assert sock.recv(65536) == b""
            except ConnectionResetError:
                pass


@pytest.mark.parametrize("mode", MODES)
def test_unix_domain_socket(mode, start_server, client, parse_reply, tmp_path) -> None:
    path = tmp_path / "echo.sock"
    server = start_server("tcp", "--mode", mode, bind=f"unix:{path}")
    assert server.url == f"unix:{path}"
    result = client("tcp", f"unix:{path}", "--message", "over a unix socket")
    assert result.returncode == 0, result.stderr
    assert parse_reply(result.stdout) == b"over a unix socket"
    assert server.stop()[0] == 0
    assert not path.exists()  # removed on exit


def test_stale_unix_socket_file_is_replaced_but_a_live_one_is_not(start_server, tmp_path) -> None:
    path = tmp_path / "echo.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a killed server leaves behind
    server = start_server("tcp", bind=f"unix:{path}")
    second = subprocess.run(
        [*ECHO, "tcp", "server", "--bind", f"unix:{path}"], capture_output=True, text=True, timeout=30
    )
    assert second.returncode == 1
    assert "already listening" in second.stderr
    assert server.proc.poll() is None


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback interface on this machine")
def test_ipv6(start_server, client, parse_reply) -> None:
    server = start_server("tcp", bind="[::1]:0")
    assert server.url.startswith("tcp://[::1]:")
    result = client("tcp", server.address, "--message", "six")
    assert result.returncode == 0, result.stderr
    assert parse_reply(result.stdout) == b"six"


def test_server_absent_is_one_clear_line(client, closed_port) -> None:
    port = closed_port(socket.SOCK_STREAM)
    result = client("tcp", f"127.0.0.1:{port}", "--message", "anyone?")
    assert result.returncode == 1
    assert result.stderr == f"error: no server at tcp://127.0.0.1:{port} (connection refused)\n"


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_a_reader_that_leaves_ends_the_client_quietly(protocol, start_server) -> None:
    # As in `sockweb echo tcp client ... | head -1`: the pipe closes under the client.
    server = start_server(protocol)
    proc = subprocess.Popen(
        [*ECHO, protocol, "client", server.address, "--message", "hi", "--count", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the client can write its first reply
    _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (1, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_an_output_that_fails_is_one_clear_line(protocol, start_server) -> None:
    server = start_server(protocol)
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [*ECHO, protocol, "client", server.address, "--message", "hi"],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=30,
        )
    assert proc.returncode == 1
    assert proc.stderr == b"error: cannot write the replies: No space left on device\n"


def test_silent_server_times_out(client) -> None:
    # The kernel completes the handshake for a listening socket even if nobody calls accept() or replies.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        result = client("tcp", f"127.0.0.1:{port}", "--message", "hello?", "--timeout", "0.3")
    assert result.returncode == 1
    assert result.stderr == f"error: no reply from tcp://127.0.0.1:{port} within 0.3 s\n"


@pytest.mark.parametrize(
    ("bind", "message"),
    [
        ("nonsense", "expected HOST:PORT"),
        ("127.0.0.1:99999", "port must be a number from 0 to 65535"),
        ("::1:80", "put IPv6 addresses in brackets"),
        ("[nope]:80", "is not an IPv6 address"),
        ("unix:", "empty unix socket path"),
    ],
)
def test_bad_bind_string_is_a_usage_error(bind, message) -> None:
    proc = subprocess.run(
        [*ECHO, "tcp", "server", "--bind", bind], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_port_in_use_is_a_runtime_error(start_server) -> None:
    server = start_server("tcp")
    proc = subprocess.run(
        [*ECHO, "tcp", "server", "--bind", server.address], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: cannot listen on {server.url}: ")


def test_multi_line_message_is_refused(client) -> None:
    result = client("tcp", "127.0.0.1:9", "--message", "two\nlines")
    assert result.returncode == 2
    assert "single line" in result.stderr


def test_server_closing_without_a_reply_is_reported(client) -> None:
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()
        port = rude.getsockname()[1]

        def hang_up() -> None:
            conn, _ = rude.accept()
            conn.recv(100)
            conn.close()

        thread = threading.Thread(target=hang_up)
        thread.start()
        result = client("tcp", f"127.0.0.1:{port}", "--message", "hello?")
        thread.join(IO_TIMEOUT)
    assert result.returncode == 1
    assert result.stderr == f"error: tcp://127.0.0.1:{port} closed the connection without replying\n"
