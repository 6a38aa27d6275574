"""The server's HTTP/2 request path in-process, for instruction counts: H2Protocol with a fake transport.

One HTTP/2 connection receives N requests in batches of concurrent streams (one ``data_received`` per
batch, as from h2load's ``-m 32``), and a plain WSGI application answers each of them inline, as the real
server does for a fast application (``dispatch = "inline"``, what ``"auto"``, the default, settles on).
The client's bytes are encoded before the measured run (with hpack and hyperframe, the way a client that indexes its fields does) and read from a
file, so only the server's work is counted: h2's frame parsing and HPACK decoding, the events, the
request parse and environ, the application, the response fields, HPACK encoding, framing and the write
calls. No event loop runs: the callbacks the connection schedules (``call_soon``) are run after each
batch, as the loop's next turn would; the loop's own reads and writes are not measured (profile a real
server under h2load for those).

Workloads:

  hello         h2load's request, repeated (``:path /``): the fields are indexed after the first one
  hello-unique  h2load's request with a new ``:path /?n`` each time
  browser       heads that never repeat, ~620 bytes, 11 fields (bench/browser_heads.py), as HTTP/2 fields
  download      1 MiB responses, 8 concurrent streams per batch (the download app; h2load -m 8)

Stages: ``full`` (the server) and ``h2`` (the h2 library alone, answering with the same fields and DATA
frames: what any server on h2 pays), so full - h2 is sockweb's own share.

Instruction counts per request, stable on a noisy machine (valgrind's callgrind, two runs of different
lengths, their difference divided by the difference in requests, so start-up cancels out):

    python bench/bench_h2_path.py --callgrind --workload hello

Wall time per request (noisy, for a quick look): ``python bench/bench_h2_path.py --workload hello``.
A profile: ``py-spy record -o out.svg -- python bench/bench_h2_path.py --requests 100000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "apps")]

import benchapps  # noqa: E402
import callgrind  # noqa: E402
from browser_heads import head as browser_head  # noqa: E402
from h2.events import RequestReceived  # noqa: E402
from hpack import Encoder  # noqa: E402
from hyperframe.frame import (  # noqa: E402
    DataFrame,
    Frame,
    HeadersFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from sockweb.server.config import Config  # noqa: E402
from sockweb.server.h2conn import PREFACE, H2Protocol  # noqa: E402
from sockweb.server.h2stream import extra_fields  # noqa: E402
from sockweb.server.state import ServerState  # noqa: E402
from sockweb.server.wsgi import environ_template  # noqa: E402

HOST = "127.0.0.1:8000"
WINDOW = 2**30 - 1  # h2load's default stream and connection windows (-w 30, -W 30)
# workload -> (application, streams per batch, response body size)
WORKLOADS = {
    "hello": ("hello", 32, 13),
    "hello-unique": ("hello", 32, 13),
    "browser": ("hello", 32, 13),
    "download": ("download", 8, 1 << 20),
}


class Transport:
    """Just enough of an asyncio transport: counts what is written (and keeps it, to check)."""

    def __init__(self, keep: bool) -> None:
        self.written = 0
        self.writes = 0
        self.kept: list[bytes] | None = [] if keep else None

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.written += len(data)
        if self.kept is not None:
            self.kept.append(bytes(data))

    def get_extra_info(self, key: str) -> Any:
        return ("127.0.0.1", 40000) if key == "peername" else None

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        raise SystemExit("the server aborted the connection")

    def get_write_buffer_size(self) -> int:
        return 0


def fields(workload: str, n: int) -> list[tuple[str, str]]:
    """The request fields of request `n` (n >= 1)."""
    if workload == "browser":
        lines = browser_head(n, HOST).decode("latin-1").split("\r\n")
        _method, path, _version = lines[0].split(" ")
        out = [(":method", "GET"), (":scheme", "http"), (":authority", HOST), (":path", path)]
        for line in lines[1:]:
            name, sep, value = line.partition(": ")
            # RFC 9113 §8.2.2: a client drops the connection-specific fields; Host becomes :authority.
            if sep and name.lower() not in {"host", "connection"}:
                out.append((name.lower(), value))
        return out
    path = f"/?{n}" if workload == "hello-unique" else "/"
    return [
        (":method", "GET"),
        (":path", path),
        (":scheme", "http"),
        (":authority", HOST),
        ("user-agent", "h2load nghttp2/1.52.0"),
    ]


def client_batches(workload: str, count: int) -> list[bytes]:
    """The client's bytes, one item per batch of concurrent streams (and per ``data_received``)."""
    _app, batch, body = WORKLOADS[workload]
    encoder = Encoder()
    frames: list[Frame] = [
        SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: WINDOW, SettingsFrame.ENABLE_PUSH: 0}),
        WindowUpdateFrame(0, window_increment=WINDOW - 65535),
        SettingsFrame(0, flags=["ACK"]),  # the server's SETTINGS came with connection_made
    ]
    first = PREFACE + b"".join(frame.serialize() for frame in frames)
    batches = []
    for start in range(1, count + 1, batch):
        data = [first] if start == 1 else []
        for n in range(start, min(start + batch, count + 1)):
            block = encoder.encode(fields(workload, n))
            data.append(HeadersFrame(2 * n - 1, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
        # What the client read of the previous batch's bodies goes back to the connection's window.
        data.append(WindowUpdateFrame(0, window_increment=batch * body).serialize())
        batches.append(b"".join(data))
    return batches


def serve(workload: str, batches: list[bytes], keep: bool = False) -> Transport:
    """Feed `batches` to one HTTP/2 connection."""
    loop = asyncio.new_event_loop()
    app = getattr(benchapps, WORKLOADS[workload][0])
    # Inline dispatch, fixed: "auto" (the default) times the application, and under valgrind it would
    # find it slow and move it to the pool, a different path on each run.
    state = ServerState(Config(http2=True, dispatch="inline"), app, loop)
    transport = Transport(keep)
    conn = H2Protocol(state, environ_template("127.0.0.1", "8000", "http", True), False)
    conn.connection_made(transport)  # type: ignore[arg-type]
    received = conn.data_received
    ready = loop._ready  # type: ignore[attr-defined]  # the loop's next turn, run by hand (no loop runs)
    for data in batches:
        received(data)
        while ready:
            ready.popleft()._run()
    state.shutdown()
    loop.close()
    return transport


def serve_h2(workload: str, batches: list[bytes], keep: bool = False) -> Transport:
    """The h2 library's part alone: the connection H2Protocol sets up (same configuration and HPACK
    encoder), each request answered by one send_headers and the DATA frames of the body, with the fields
    sockweb would send; no request parse, environ, application or stream objects."""
    loop = asyncio.new_event_loop()
    state = ServerState(Config(http2=True, dispatch="inline"), benchapps.hello, loop)
    transport = Transport(keep)
    proto = H2Protocol(state, environ_template("127.0.0.1", "8000", "http", True), False)
    proto.connection_made(transport)  # type: ignore[arg-type]
    conn = proto.h2
    body = benchapps._MIB if workload == "download" else benchapps._HELLO
    ctype = b"application/octet-stream" if workload == "download" else b"text/plain"
    fields = [(b":status", b"200"), (b"content-type", ctype), (b"content-length", b"%d" % len(body))]
    fields += extra_fields(state.extra, set())
    frame = conn.max_outbound_frame_size
    for data in batches:
        for event in conn.receive_data(data):
            if type(event) is RequestReceived:
                sid = event.stream_id
                conn.send_headers(sid, fields)
                view = memoryview(body)
                for start in range(0, len(body), frame):
                    conn.send_data(sid, view[start : start + frame], end_stream=start + frame >= len(body))
        transport.write(conn.take_data_to_send())  # as H2Protocol.write_out takes it
    state.shutdown()
    loop.close()
    return transport


STAGES = {"full": serve, "h2": serve_h2}


def check(workload: str, transport: Transport, count: int) -> None:
    """Every stream ended with a 200 and its whole body."""
    data = b"".join(transport.kept or [])
    ended = body = 0
    pos = 0
    while pos < len(data):
        frame, length = Frame.parse_frame_header(memoryview(data[pos : pos + 9]))
        frame.parse_body(memoryview(data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
        if isinstance(frame, DataFrame):
            body += len(frame.data)
        if "END_STREAM" in frame.flags:
            ended += 1
    expected = count * WORKLOADS[workload][2]
    assert ended == count and body == expected, (ended, count, body, expected)


def instructions(args: argparse.Namespace, served: int, path: str) -> int:
    """Instructions callgrind counts for a run of this script serving `served` requests."""
    return callgrind.count(
        [
            sys.executable,
            __file__,
            "--workload",
            args.workload,
            "--requests",
            str(served),
            "--load",
            path,
            "--stage",
            args.stage,
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="hello", choices=tuple(WORKLOADS))
    ap.add_argument(
        "--requests", type=int, default=None, help="requests served (default 20000, download 800)"
    )
    ap.add_argument("--callgrind", action="store_true", help="print instructions per request")
    ap.add_argument("--stage", default="full", choices=tuple(STAGES), help="full: the server; h2: h2 alone")
    ap.add_argument("--load", help=argparse.SUPPRESS)  # the client's bytes, pickled (callgrind's runs)
    args = ap.parse_args()
    default = 800 if args.workload == "download" else 20000
    count = args.requests or default
    if args.load:
        with open(args.load, "rb") as f:
            STAGES[args.stage](args.workload, pickle.load(f)[: -(-count // WORKLOADS[args.workload][1])])
        return
    batch = WORKLOADS[args.workload][1]
    if args.callgrind:
        # Whole batches in both runs, so that the difference is a whole number of batches.
        high = count // batch * batch
        low = high // 4 // batch * batch
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "client.pickle")
            with open(path, "wb") as f:
                pickle.dump(client_batches(args.workload, high), f)
            per = (instructions(args, high, path) - instructions(args, low, path)) / (high - low)
        print(f"{args.workload:13} {args.stage:4} {per:10.0f} instructions/request")
        return
    batches = client_batches(args.workload, count)
    started = time.perf_counter()
    transport = STAGES[args.stage](args.workload, batches, keep=True)
    elapsed = time.perf_counter() - started
    check(args.workload, transport, count)
    print(
        f"{args.workload}: {elapsed / count * 1e6:.2f} us/request (noisy), "
        f"{transport.writes} writes, {transport.written} bytes"
    )


if __name__ == "__main__":
    main()
