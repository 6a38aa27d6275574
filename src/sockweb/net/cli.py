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
from sockweb.net.tcp_client import OutputError, run_tcp_client
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


ADDRESSES = f"""\
addresses: HOST:PORT, [IPV6]:PORT, PORT (on 127.0.0.1) or unix:PATH (default {DEFAULT_ADDRESS}).
A server with port 0 gets a free port from the system and prints it: "listening on tcp://HOST:PORT".
replies: "[2026-11-21T20:38:02.123+01:00] MESSAGE" (local time, ISO 8601); errors start with "error:".
"""


def _roles(
    protocols: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``sockweb echo NAME {server,client}``."""
    return protocols.add_parser(name, help=help_).add_subparsers(
        dest="role", required=True, metavar="{server,client}"
    )


def _subparser(
    parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str
) -> argparse.ArgumentParser:
    return parent.add_parser(
        name,
        help=help_,
        description=help_[0].upper() + help_[1:] + ".",
        epilog=ADDRESSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        "-b",
        metavar="ADDR",
        type=_bind_address,
        default=DEFAULT_ADDRESS,
        help=f"where to listen (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log clients and problems to stderr")


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address",
        metavar="ADDR",
        nargs="?",
        type=_server_address,
        default=DEFAULT_ADDRESS,
        help=f"the server (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--message", "-m", metavar="TEXT", help="send TEXT instead of reading lines from stdin"
    )
    parser.add_argument(
        "--count", "-n", metavar="N", type=_positive, default=1, help="send TEXT N times (default 1)"
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=5.0,
        help="how long to wait to connect and for each reply (default 5)",
    )


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Timestamped echo servers and clients over TCP, UDP and unix sockets.",
        epilog=ADDRESSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    protocols = parser.add_subparsers(dest="protocol", required=True, metavar="{tcp,udp}")

    tcp = _roles(protocols, "tcp", "line-based echo over a stream socket")
    server = _subparser(tcp, "server", "run the line echo server until Ctrl-C or SIGTERM")
    _add_server_options(server)
    server.add_argument(
        "--mode",
        choices=sorted(MODES),
        default="selectors",
        help="one thread with a selector, a thread per client, or socketserver (default selectors)",
    )
    server.add_argument(
        "--max-line",
        metavar="BYTES",
        type=_positive,
        default=DEFAULT_MAX_LINE,
        help=f"longest line; a longer one gets an error and the client is disconnected ({DEFAULT_MAX_LINE})",
    )
    _add_client_options(
        _subparser(tcp, "client", "send lines, print the replies; an empty line or EOF quits")
    )

    udp = _roles(protocols, "udp", "datagram echo")
    server = _subparser(udp, "server", "run the datagram echo server until Ctrl-C or SIGTERM")
    _add_server_options(server)
    server.add_argument(
        "--max-size",
        metavar="BYTES",
        type=_datagram_size,
        default=DEFAULT_MAX_DATAGRAM,
        help=f"largest datagram; a larger one gets an error reply, not an echo ({DEFAULT_MAX_DATAGRAM})",
    )
    client = _subparser(udp, "client", "send datagrams, print the replies; an empty line or EOF quits")
    _add_client_options(client)
    client.add_argument(
        "--retries",
        metavar="N",
        type=_non_negative,
        default=2,
        help="send a datagram again up to N times when no reply comes (default 2)",
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
    try:
        if args.protocol == "tcp":
            return run_tcp_client(address, messages, timeout=args.timeout, out=out, err=err)
        return run_udp_client(address, messages, timeout=args.timeout, retries=args.retries, out=out, err=err)
    except OutputError as exc:
        return _output_failed(exc)


def _output_failed(exc: OutputError) -> int:
    # A reader that left (``| head -1``) is not an error worth a message; a full disk is.
    if not isinstance(exc.cause, BrokenPipeError):
        print(f"error: cannot write the replies: {exc}", file=sys.stderr)
    # What stdout still buffers cannot be written either: point it at /dev/null, so that the
    # interpreter's flush at exit does not fail again with a traceback.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 1


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
