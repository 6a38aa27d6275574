"""Micro-benchmark of the request parser: sockweb.http vs httptools (llhttp, C) vs h11.

Each parser builds the same result for a request head: (method, target, version, [(lowercased name, value)]),
so the C parser pays for its Python callbacks just as a server using it would. Two workloads:
one typical browser request head per feed (parser reused, as on a keep-alive connection), and a pipelined
batch of 16 such requests in one feed. Prints ns per request (best of several repeats) and our ratio to
httptools. Run pinned to one core, e.g.:

    taskset -c 1 python bench/bench_parse.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from sockweb.http import NEED_DATA, Request, RequestParser

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

Result = tuple[str, bytes, str, list[tuple[bytes, bytes]]]


def sockweb_runner(data: bytes) -> Callable[[], list[Result]]:
    parser = RequestParser()

    def run() -> list[Result]:
        out: list[Result] = []
        parser.feed(data)
        next_event = parser.next_event
        while True:
            event = next_event()
            if event is NEED_DATA:
                return out
            if type(event) is Request:
                out.append((event.method, event.target, event.http_version, event.headers))

    return run


def httptools_runner(data: bytes) -> Callable[[], list[Result]]:
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

    def run() -> list[Result]:
        proto.out = []
        proto.parser.feed_data(data)
        return proto.out

    return run


def h11_runner(data: bytes) -> Callable[[], list[Result]]:
    import h11

    def run() -> list[Result]:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(data)
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
    batch = HEAD * BATCH
    expected = sockweb_runner(HEAD)()
    rows = []
    for label, data, count, parsers in (
        ("single head", HEAD, 1, ("sockweb", "httptools", "h11")),
        (f"pipelined x{BATCH}", batch, BATCH, ("sockweb", "httptools")),
    ):
        runs = {}
        for name in parsers:
            run = {"sockweb": sockweb_runner, "httptools": httptools_runner, "h11": h11_runner}[name](data)
            got = run()
            # every parser must produce the same result, or the comparison means nothing
            assert len(got) == count and got[0][:2] == expected[0][:2], (name, got[:1])
            assert list(got[0][3]) == expected[0][3] or name == "h11", name
            runs[name] = run
        rows.append((label, measure(runs, count, args.seconds, args.repeats)))
    fields = HEAD.count(b"\r\n") - 2
    print(f"python {sys.version.split()[0]}, head of {len(HEAD)} bytes with {fields} header fields")
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
