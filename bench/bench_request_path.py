"""The server's request path in-process, for instruction counts: HttpProtocol with a fake transport.

One keep-alive connection receives N request heads, one per ``data_received`` (as from a client that
waits for each response), and a plain WSGI hello application answers each of them inline, as the real
server does with its default settings (``dispatch = "auto"``). No event loop runs: the loop-side code
(parser, environ, dispatch, response head, the write call) is what is measured; the loop's own reads and
writes are not (profile a real server under wrk for those).

Workloads:

  browser       heads that never repeat, ~620 bytes, 11 fields (bench/browser_heads.py)
  hello-unique  wrk's own head with a new target each time (bench/unique.lua): ``GET /?n`` + Host
  hello         wrk's one head, repeated (the head memo's case; not a headline)

Stages: ``full`` (the whole request path), ``parse`` (the parser alone, fed and read as the connection
does) and ``environ`` (the parser, then `head_environ` on each request), so full - parse is what comes
after the parser, environ - parse the environ's share of it.

Instruction counts per request, stable on a noisy machine (valgrind's callgrind, two runs of different
lengths, their difference divided by the difference in requests, so start-up cancels out):

    python bench/bench_request_path.py --callgrind --workload browser --memo 0

Wall time per request (noisy, for a quick look): ``python bench/bench_request_path.py --workload browser``.
A profile: ``py-spy record -o out.svg -- python bench/bench_request_path.py --requests 200000``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "apps")]

import callgrind  # noqa: E402
from benchapps import hello  # noqa: E402
from browser_heads import head as browser_head  # noqa: E402

from sockweb.http import NEED_DATA, HeadMemo, Request, RequestParser  # noqa: E402
from sockweb.server import protocol  # noqa: E402
from sockweb.server.config import Config  # noqa: E402
from sockweb.server.state import ServerState  # noqa: E402
from sockweb.server.wsgi import environ_template, head_environ  # noqa: E402

HOST = "127.0.0.1:8000"


class Transport:
    """Just enough of an asyncio transport: counts what is written."""

    def __init__(self) -> None:
        self.written = 0
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.written += len(data)

    def writelines(self, parts: list[bytes]) -> None:
        self.writes += 1
        for part in parts:
            self.written += len(part)

    def get_extra_info(self, key: str) -> Any:
        return ("127.0.0.1", 40000) if key == "peername" else None

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def heads(workload: str, count: int) -> list[bytes]:
    if workload == "browser":
        return [browser_head(n, HOST) for n in range(1, count + 1)]
    if workload == "hello-unique":
        return [b"GET /?%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, HOST.encode()) for n in range(1, count + 1)]
    if workload == "hello":
        return [b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST.encode()] * count
    raise SystemExit(f"unknown workload {workload!r}")


def serve(
    datas: list[bytes], served: int, memo: int, stage: str, metrics: bool = False, watch: bool = True
) -> Transport:
    """Feed the first `served` of `datas` to one connection (or, for stage "parse", to a parser).

    `watch` False turns off the auto policy's slow-call watch (the perf_counter pair around each call
    stays): under valgrind every call is tens of times slower, so the watch would start at random, and
    its extra clock and getrusage calls would land in some runs and not in others."""
    if not watch:
        protocol.SLOW_CALL = float("inf")
    loop = asyncio.new_event_loop()
    config = Config(head_memo=memo, metrics_bind="127.0.0.1:0" if metrics else None)
    state = ServerState(config, hello, loop)
    transport = Transport()
    if stage in {"parse", "environ"}:
        parser = RequestParser(state.limits, HeadMemo(state.limits, memo) if memo else None)
        template = environ_template("127.0.0.1", "8000", "http", True)
        environ = stage == "environ"
        for data in datas[:served]:
            parser.feed(data)
            while (event := parser.reader()) is not NEED_DATA:
                if environ and type(event) is Request:
                    head_environ(template, state.header_keys, event)
    else:
        conn = state.protocol_class(state, environ_template("127.0.0.1", "8000", "http", True), False)
        conn.connection_made(transport)  # type: ignore[arg-type]
        received = conn.data_received
        for data in datas[:served]:
            received(data)
    state.shutdown()
    loop.close()
    return transport


def instructions(args: argparse.Namespace, served: int) -> int:
    """Instructions callgrind counts for a run of this script serving `served` requests."""
    return callgrind.count(
        [
            sys.executable,
            __file__,
            "--workload",
            args.workload,
            "--memo",
            str(args.memo),
            "--stage",
            args.stage,
            "--requests",
            str(args.requests),
            "--served",
            str(served),
            *(["--metrics"] if args.metrics else []),
            "--no-watch",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="browser", choices=("browser", "hello-unique", "hello"))
    ap.add_argument("--memo", type=int, default=256, help="head memo entries (0: off; the default is on)")
    ap.add_argument("--stage", default="full", choices=("full", "parse", "environ"))
    ap.add_argument("--requests", type=int, default=20000, help="heads generated")
    ap.add_argument("--served", type=int, default=None, help="heads served (default: all)")
    ap.add_argument("--callgrind", action="store_true", help="print instructions per request")
    ap.add_argument("--metrics", action="store_true", help="count as --metrics-bind does (no listener runs)")
    ap.add_argument("--no-watch", action="store_true", help="no slow-call watch (set for --callgrind runs)")
    args = ap.parse_args()
    if args.callgrind:
        low, high = args.requests // 4, args.requests
        per = (instructions(args, high) - instructions(args, low)) / (high - low)
        memo = f"memo {args.memo}" if args.memo else "memo off"
        print(f"{args.workload:13} {args.stage:5} {memo:9} {per:10.0f} instructions/request")
        return
    datas = heads(args.workload, args.requests)
    served = args.requests if args.served is None else args.served
    started = time.perf_counter()
    transport = serve(datas, served, args.memo, args.stage, args.metrics, not args.no_watch)
    elapsed = time.perf_counter() - started
    if args.served is None:
        print(
            f"{args.workload} {args.stage} memo={args.memo}: {elapsed / served * 1e6:.2f} us/request "
            f"(noisy), {transport.writes} writes, {transport.written} bytes"
        )


if __name__ == "__main__":
    main()
