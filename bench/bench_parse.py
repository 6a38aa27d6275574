"""Micro-benchmark of the request parser: sockweb.http vs httptools (llhttp, C) vs h11.

Each parser builds the same result for a request head: (method, target, version, [(lowercased name, value)]),
so the C parser pays for its Python callbacks just as a server using it would. Three workloads:

  browser        the headline: heads that never repeat, one per feed (bench/browser_heads.py, the heads
                 bench/browser.lua sends: ~620 bytes, 11 fields, path, query, Referer and cookies varying),
                 our parser with a HeadMemo as the server runs it, so it pays the memo's checksum and lookup
                 and never gets a hit
  single head    one typical browser head, the same bytes every time, one per feed (parser reused, as on a
                 keep-alive connection), no HeadMemo: every head is parsed
  pipelined x16  16 such heads in one feed, no HeadMemo

Prints ns per request (best of several repeats) and our ratio to httptools. Run pinned to one core, e.g.:

    taskset -c 1 python bench/bench_parse.py
    SOCKWEB_PURE_PYTHON=1 taskset -c 1 python bench/bench_parse.py   # the pure-Python parser
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable

from browser_heads import head as browser_head

from sockweb.http import NEED_DATA, HeadMemo, Request, RequestParser, describe_parser

HEAD = (
    b"GET /articles/2024/sockets-to-web?page=2&sort=recent HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Referer: https://www.example.com/articles/2024\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=8f2b1c9e7a; theme=dark; consent=yes\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"\r\n"
)
BATCH = 16
# Distinct browser heads cycled through: far more than one parser's memo would ever keep, and a head comes
# back only after 4,095 others, so it is never "the same head twice in a row".
BROWSER = [browser_head(n, "127.0.0.1:8000") for n in range(1, 4097)]

Result = tuple[str, bytes, str, list[tuple[bytes, bytes]]]


def sockweb_runner(datas: list[bytes], memo: bool = False) -> Callable[[], list[Result]]:
    parser = RequestParser(memo=HeadMemo() if memo else None)
    feeds = itertools.cycle(datas).__next__

    def run() -> list[Result]:
        out: list[Result] = []
        parser.feed(feeds())
        next_event = parser.next_event
        while True:
            event = next_event()
            if event is NEED_DATA:
                return out
            if type(event) is Request:
                out.append((event.method, event.target, event.http_version, event.headers))

    return run


def httptools_runner(datas: list[bytes]) -> Callable[[], list[Result]]:
    import httptools

    class Proto:
        __slots__ = ("headers", "out", "parser", "url")

        def __init__(self) -> None:
            self.out: list[Result] = []
            self.headers: list[tuple[bytes, bytes]] = []
            self.url = b""

        def on_message_begin(self) -> None:
            self.headers = []
            self.url = b""

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name.lower(), value))

        def on_headers_complete(self) -> None:
            p = self.parser
            self.out.append((p.get_method().decode("ascii"), self.url, p.get_http_version(), self.headers))

    proto = Proto()
    proto.parser = httptools.HttpRequestParser(proto)
    feeds = itertools.cycle(datas).__next__

    def run() -> list[Result]:
        proto.out = []
        proto.parser.feed_data(feeds())
        return proto.out

    return run


def h11_runner(datas: list[bytes]) -> Callable[[], list[Result]]:
    import h11

    feeds = itertools.cycle(datas).__next__

    def run() -> list[Result]:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(feeds())
        event = conn.next_event()
        assert isinstance(event, h11.Request)
        result = (
            event.method.decode("ascii"),
            event.target,
            event.http_version.decode("ascii"),
            [(n, v) for n, v in event.headers],
        )
        assert isinstance(conn.next_event(), h11.EndOfMessage)
        return [result]

    return run


def calibrate(run: Callable[[], list[Result]], seconds: float) -> int:
    """Loops of `run` that take about `seconds`."""
    loops = 1
    while True:
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            run()
        elapsed = time.perf_counter_ns() - t0
        if elapsed > 20_000_000:
            return max(1, int(loops * seconds / (elapsed / 1e9)))
        loops *= 2


def measure(
    runs: dict[str, Callable[[], list[Result]]], requests: int, seconds: float, repeats: int
) -> dict[str, float]:
    """Best ns per request for each parser. Rounds alternate between the parsers, so that load from other
    processes (the machine is shared) hits all of them alike and the ratio stays meaningful."""
    loops = {name: calibrate(run, seconds / repeats) for name, run in runs.items()}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter_ns()
            for _ in range(loops[name]):
                run()
            best[name] = min(best[name], (time.perf_counter_ns() - t0) / loops[name] / requests)
    return best


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args(argv)
    factories: dict[str, Callable[[list[bytes]], Callable[[], list[Result]]]] = {
        "sockweb": sockweb_runner,
        "httptools": httptools_runner,
        "h11": h11_runner,
    }
    rows = []
    for label, datas, count, parsers, memo in (
        ("browser", BROWSER, 1, ("sockweb", "httptools", "h11"), True),
        ("single head", [HEAD], 1, ("sockweb", "httptools", "h11"), False),
        (f"pipelined x{BATCH}", [HEAD * BATCH], BATCH, ("sockweb", "httptools"), False),
    ):
        runs = {}
        for name in parsers:
            run = sockweb_runner(datas, memo) if name == "sockweb" else factories[name](datas)
            # every parser must produce the same result, on every head, or the comparison means nothing
            for data in datas[:64]:
                got, expected = run(), sockweb_runner([data])()
                assert len(got) == count and got[0][:2] == expected[0][:2], (name, got[:1])
                assert list(got[0][3]) == expected[0][3] or name == "h11", name
            runs[name] = run
        rows.append((label, measure(runs, count, args.seconds, args.repeats)))
    sizes = [len(h) for h in BROWSER]
    print(f"python {sys.version.split()[0]}, sockweb parser: {describe_parser()}")
    print(
        f"browser: {len(BROWSER)} heads that never repeat, {min(sizes)}-{max(sizes)} bytes "
        f"(mean {sum(sizes) / len(sizes):.0f}), 11 header fields; sockweb with a HeadMemo (never hit)"
    )
    fields = HEAD.count(b"\r\n") - 2
    print(f"single head: {len(HEAD)} bytes, {fields} header fields, no HeadMemo")
    print(f"{'workload':<16}{'sockweb':>12}{'httptools':>12}{'h11':>12}{'sockweb/httptools':>20}")
    for label, results in rows:
        h11_ns = f"{results['h11']:.0f}" if "h11" in results else "-"
        ratio = results["sockweb"] / results["httptools"]
        print(
            f"{label:<16}{results['sockweb']:>12.0f}{results['httptools']:>12.0f}{h11_ns:>12}{ratio:>20.2f}"
        )
    print("(ns per request, best of repeats; lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
