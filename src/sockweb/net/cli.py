"""``sockweb echo``: the command line of the TCP/UDP echo servers and clients.

    sockweb echo tcp server [--bind ADDR] [--mode selectors|threaded|socketserver] [--max-line N] [-v]
    sockweb echo tcp client [ADDR] [--message TEXT [--count N]] [--timeout S]
    sockweb echo udp server [--bind ADDR] [--max-size N] [-v]
    sockweb echo udp client [ADDR] [--message TEXT [--count N]] [--timeout S] [--retries N]

ADDR is ``HOST:PORT``, ``[IPV6]:PORT``, ``PORT`` (on 127.0.0.1) or ``unix:PATH`` (default
127.0.0.1:9000). A server prints ``listening on tcp://HOST:PORT`` (the real port when given port 0) and
runs until Ctrl-C or SIGTERM, then closes everything and exits 0. A client without ``--message`` is
interactive: it sends each line read from stdin and prints the reply; an empty line or end of input
quits. Exit status: 0 success, 1 network failure (server absent, timeout, lost datagram, error reply),
2 usage error (including a malformed address).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator

from sockweb.net.address import Address, AddressError, bound_address, listen_socket, parse_address
from sockweb.net.echo import DEFAULT_MAX_DATAGRAM, DEFAULT_MAX_LINE
from sockweb.net.lifecycle import StopSignal, stop_on_signals
from sockweb.net.tcp_client import run_tcp_client
from sockweb.net.tcp_server import MODES, EchoConfig, serve
from sockweb.net.udp import MAX_UDP_PAYLOAD, run_udp_client, serve_udp

__all__ = ["build_parser", "main"]

DEFAULT_ADDRESS = "127.0.0.1:9000"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _datagram_size(text: str) -> int:
    value = _positive(text)
    if value > MAX_UDP_PAYLOAD:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_UDP_PAYLOAD} (the UDP payload limit)")
    return value


def _bind_address(text: str) -> Address:
    try:
        return parse_address(text, allow_port_zero=True)
    except AddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _server_address(text: str) -> Address:
    try:
        return parse_address(text)
    except AddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address",
        nargs="?",
        type=_server_address,
        default=DEFAULT_ADDRESS,
        help=f"server (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument("--message", "-m", help="send this line instead of reading stdin")
    parser.add_argument("--count", "-n", type=_positive, default=1, help="send --message N times (default 1)")
    parser.add_argument(
        "--timeout", type=_seconds, default=5.0, help="seconds to wait for each reply (default 5)"
    )


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Timestamped echo servers and clients.")
    protocols = parser.add_subparsers(dest="protocol", required=True, metavar="{tcp,udp}")

    tcp = protocols.add_parser("tcp", help="line-based echo over a stream socket").add_subparsers(
        dest="role", required=True, metavar="{server,client}"
    )
    server = tcp.add_parser("server", help="run the echo server")
    server.add_argument(
        "--bind",
        "-b",
        type=_bind_address,
        default=DEFAULT_ADDRESS,
        help=f"address (default {DEFAULT_ADDRESS})",
    )
    server.add_argument(
        "--mode", choices=sorted(MODES), default="selectors", help="server style (default selectors)"
    )
    server.add_argument(
        "--max-line",
        type=_positive,
        default=DEFAULT_MAX_LINE,
        help=f"longest line in bytes ({DEFAULT_MAX_LINE})",
    )
    server.add_argument("--verbose", "-v", action="store_true", help="log connections to stderr")
    _add_client_options(tcp.add_parser("client", help="send lines and print the replies"))

    udp = protocols.add_parser("udp", help="datagram echo").add_subparsers(
        dest="role", required=True, metavar="{server,client}"
    )
    server = udp.add_parser("server", help="run the echo server")
    server.add_argument(
        "--bind",
        "-b",
        type=_bind_address,
        default=DEFAULT_ADDRESS,
        help=f"address (default {DEFAULT_ADDRESS})",
    )
    server.add_argument(
        "--max-size",
        type=_datagram_size,
        default=DEFAULT_MAX_DATAGRAM,
        help=f"largest datagram in bytes; larger ones get an error reply ({DEFAULT_MAX_DATAGRAM})",
    )
    server.add_argument("--verbose", "-v", action="store_true", help="log problems to stderr")
    client = udp.add_parser("client", help="send datagrams and print the replies")
    _add_client_options(client)
    client.add_argument(
        "--retries", type=_non_negative, default=2, help="resend a datagram this many times (default 2)"
    )
    return parser


def _stdin_lines() -> Iterator[bytes]:
    """Lines typed (or piped) on stdin, until an empty line or end of input."""
    stdin = sys.stdin.buffer
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = stdin.readline()
        text = line.rstrip(b"\r\n")
        if not text:
            return
        yield text


def _messages(args: argparse.Namespace) -> Iterator[bytes]:
    if args.message is None:
        return _stdin_lines()
    return iter([args.message.encode("utf-8", errors="surrogateescape")] * args.count)


def _run_server(args: argparse.Namespace, address: Address) -> int:
    kind = socket.SOCK_STREAM if args.protocol == "tcp" else socket.SOCK_DGRAM
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
        stream=sys.stderr,
    )
    try:
        sock = listen_socket(address, kind)
    except OSError as exc:
        print(
            f"error: cannot listen on {address.display(args.protocol)}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    stop = StopSignal()
    try:
        with sock, stop_on_signals(stop):
            print(f"listening on {bound_address(sock, address).display(args.protocol)}", flush=True)
            if args.protocol == "tcp":
                serve(args.mode, sock, EchoConfig(max_line=args.max_line), stop)
            else:
                serve_udp(sock, stop, max_size=args.max_size)
    finally:
        stop.close()
        if address.is_unix:
            with contextlib.suppress(OSError):
                os.unlink(address.path)
    print("stopped", flush=True)
    return 0


def _run_client(args: argparse.Namespace, address: Address) -> int:
    if args.message is not None and ("\n" in args.message or "\r" in args.message):
        print("error: --message must be a single line", file=sys.stderr)
        return 2
    messages, out, err = _messages(args), sys.stdout.buffer, sys.stderr
    if args.protocol == "tcp":
        return run_tcp_client(address, messages, timeout=args.timeout, out=out, err=err)
    return run_udp_client(address, messages, timeout=args.timeout, retries=args.retries, out=out, err=err)


def main(argv: list[str], prog: str = "sockweb echo") -> int:
    """Entry point of ``sockweb echo``; returns the exit status."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if args.role == "server":
        return _run_server(args, args.bind)
    return _run_client(args, args.address)
