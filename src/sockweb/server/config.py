"""The server's settings: one table, declared once, from which everything else is generated.

Every setting is a field of the frozen dataclass :class:`Config`, declared with :func:`setting` (default,
CLI flag, environment variable, help, section, validation). The argparse parser, the ``SOCKWEB_*``
environment variables, the TOML config file (``--config FILE`` or ``[tool.sockweb]`` in ./pyproject.toml),
``--print-config`` and docs/settings.md are all produced by iterating ``dataclasses.fields(Config)``, so a
new setting is one declaration and nothing else.

Strategy: each source (command line, environment, file) is turned into ``{name: raw value}``; every raw
value goes through the same per-type parser and the setting's validator, and a failure becomes a
:class:`ConfigError` whose one-line message names the setting *as the user spelled it* (``--workers``,
``SOCKWEB_WORKERS`` or ``workers in sockweb.toml``) and the allowed values. The sources are then merged
with precedence command line > environment > file > defaults.

``python -m sockweb.server.config --markdown`` prints docs/settings.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

__all__ = [
    "SECTIONS",
    "SETTINGS",
    "Config",
    "ConfigError",
    "Setting",
    "build_parser",
    "load_config",
    "render_markdown",
    "render_toml",
    "setting",
]

T = TypeVar("T")

# A raw value as a source delivers it: a string (CLI, environment) or a TOML value.
Raw = object

# section key -> title, in the order the help and the docs list them
SECTIONS: dict[str, str] = {
    "app": "Application",
    "bind": "Binding and connections",
    "http": "HTTP limits and timeouts",
    "http2": "HTTP/2",
    "workers": "Worker processes",
    "process": "Process (pid file, user, directory)",
    "tls": "TLS",
    "proxy": "Reverse proxies",
    "logging": "Logging",
    "metrics": "Metrics, status and health",
    "dev": "Development",
    "config": "Configuration",
    "hooks": "Server hooks (Python config file only)",
}

# A server hook's value: the user's function (see sockweb.server.hooks).
Hook = Callable[..., object]


class ConfigError(Exception):
    """A bad setting value or a bad config file; ``str(err)`` is the one-line message for the user."""


class _BadItem(ValueError):
    """A parser's ValueError about one item of a list setting: the message shows that item, not the list."""

    def __init__(self, message: str, item: object) -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True)
class Setting:
    """One row of the settings table (the metadata of one :class:`Config` field)."""

    name: str
    type: str
    default: object
    validate: Callable[[Any], Any] | None
    flag: str | None
    env: str | None
    help: str
    section: str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    short: str | None = None
    parse: Callable[[Raw], Any] | None = None
    in_file: bool = True
    positional: bool = False
    switch: bool = False


def setting(
    default: T,
    *,
    help: str,
    section: str,
    flag: str | None = "",
    env: str | None = "",
    validate: Callable[[Any], Any] | None = None,
    choices: Sequence[str] | None = None,
    metavar: str | None = None,
    short: str | None = None,
    parse: Callable[[Raw], Any] | None = None,
    in_file: bool = True,
    positional: bool = False,
    switch: bool = False,
) -> T:
    """Declare a :class:`Config` field: its default plus everything the CLI, env, file and docs need.

    ``flag=""``/``env=""`` derive ``--the-name``/``SOCKWEB_THE_NAME`` from the field name; ``None`` means
    "not settable that way". ``switch=True`` makes a boolean a plain ``--flag`` (no ``--no-flag``).
    ``parse`` replaces the per-type parser of raw values; ``validate`` checks a
    parsed value and returns it (possibly normalised); both raise ``ValueError("expected ...")``.
    """
    meta = {
        "flag": flag,
        "env": env,
        "help": help,
        "section": section,
        "validate": validate,
        "choices": tuple(choices) if choices is not None else None,
        "metavar": metavar,
        "short": short,
        "parse": parse,
        "in_file": in_file,
        "positional": positional,
        "switch": switch,
    }
    field: T = dataclasses.field(default=default, metadata={"sockweb": meta})
    return field


# --- validators and parsers (raise ValueError("expected ...")) ---------------------------------------


def positive(value: int | float) -> int | float:
    if value <= 0:
        raise ValueError("expected a positive number")
    return value


def non_negative(value: int | float) -> int | float:
    if value < 0:
        raise ValueError("expected a number >= 0")
    return value


def optional_positive(value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise ValueError("expected a positive integer or 'none'")
    return value


def _http2_available(value: bool) -> bool:
    """HTTP/2 needs the optional h2 package: a readable error at start-up, not a traceback later."""
    if value and importlib.util.find_spec("h2") is None:
        raise ValueError("needs the h2 package, which is not installed (pip install 'sockweb[http2]')")
    return value


def _window_size(value: int) -> int:
    # RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a FLOW_CONTROL_ERROR.
    if not 65535 <= value <= 2**31 - 1:
        raise ValueError("expected 65535 to 2147483647")
    return value


def parse_workers(raw: Raw) -> int:
    """``auto`` (the number of CPUs) or a positive integer."""
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return os.cpu_count() or 1
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    raise ValueError("expected a positive integer or 'auto'")


def parse_umask(raw: Raw) -> int | None:
    """An octal mode (``022``, ``0o117``); a TOML integer is taken as is."""
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 0o777:
        return raw
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("", "none"):
            return None
        text = text.removeprefix("0o")
        if text and len(text) <= 4 and all(c in "01234567" for c in text) and int(text, 8) <= 0o777:
            return int(text, 8)
    raise ValueError("expected an octal mode between 000 and 777 (e.g. 022)")


def _int(raw: Raw) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip().replace("_", ""))
        except ValueError:
            pass
    raise ValueError("expected an integer")


def _float(raw: Raw) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            pass
    raise ValueError("expected a number")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _bool(raw: Raw) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError("expected true or false (1/0, yes/no, on/off)")


def _str(raw: Raw) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError("expected a string")


def _optional(inner: Callable[[Raw], T]) -> Callable[[Raw], T | None]:
    def parse(raw: Raw) -> T | None:
        if isinstance(raw, str) and raw.strip().lower() in ("", "none"):
            return None
        return inner(raw)

    return parse


def _str_tuple(raw: Raw) -> tuple[str, ...]:
    """A list (TOML), or comma-separated strings; each item stripped, empty items dropped."""
    items: Iterable[object] = [raw] if isinstance(raw, str) else raw if isinstance(raw, (list, tuple)) else ()
    if not isinstance(raw, (str, list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a string or a list of strings")
    out = [part.strip() for item in items for part in str(item).split(",")]
    return tuple(p for p in out if p)


def _hook(raw: Raw) -> Hook:
    if not callable(raw):
        raise ValueError("expected a function (a hook is set in a Python config file)")
    return raw


def _hook_checker(name: str) -> Callable[[Hook], Hook]:
    """A validator: the hook accepts the arguments sockweb passes it (found at start-up, not at call)."""

    def check(value: Hook) -> Hook:
        import inspect

        from sockweb.server.hooks import HOOK_ARGS

        params = HOOK_ARGS[name]
        try:
            inspect.signature(value).bind(*params)
        except TypeError:
            raise ValueError(f"expected a function taking ({', '.join(params)})") from None
        except ValueError:  # no signature to inspect (some builtins): trust it
            pass
        return value

    return check


def _hook_setting(name: str, when: str) -> Any:
    from sockweb.server.hooks import HOOK_ARGS

    return setting(
        None,
        flag=None,
        env=None,
        parse=_hook,
        validate=_hook_checker(name),
        help=f"`{name}({', '.join(HOOK_ARGS[name])})`: {when}",
        section="hooks",
    )


def _env_pairs(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        key, sep, _ = item.partition("=")
        if not sep or not key or any(c in key for c in "\0 "):
            raise _BadItem("expected KEY=VALUE items", item)
    return value


def _root_path(value: str) -> str:
    from sockweb.server.mount import check_prefix

    return check_prefix(value)  # raises ValueError("expected ...")


# annotation (as written in Config, a string under `from __future__ import annotations`) -> parser
PARSERS: dict[str, Callable[[Raw], Any]] = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "str": _str,
    "str | None": _optional(_str),
    "int | None": _optional(_int),
    "float | None": _optional(_float),
    "tuple[str, ...]": _str_tuple,
    "Hook | None": _hook,
}


def _binds(raw: Raw) -> tuple[str, ...]:
    """``--bind`` values, each checked by the bind parser: a typo is a usage error, found before the
    server starts. (Only values loaded from a source are checked here; code that builds a Config itself
    gets the BindError when the sockets are created.)"""
    from sockweb.server.binds import BindSyntaxError, parse_bind

    binds = _str_tuple(raw)
    for text in binds:
        try:
            parse_bind(text)
        except BindSyntaxError as exc:
            raise _BadItem(exc.expected, text) from None
    return binds


def _app_spec(value: str) -> str:
    if value.startswith(":") or value.endswith(":") or any(c.isspace() for c in value):
        raise ValueError("expected MODULE or MODULE:APP (e.g. myproject.wsgi:application)")
    return value


def _access_log_format(value: str) -> str:
    if value == "json":
        return value
    from sockweb.server.accesslog import compile_format

    try:
        compile_format(value)
    except ValueError as exc:
        raise ValueError(
            f"expected 'combined', 'common', 'json' or a format of %(atom)s codes ({exc})"
        ) from None
    return value


def _allow_ips(value: tuple[str, ...]) -> tuple[str, ...]:
    from sockweb.server.proxy import AllowList

    AllowList(value)  # raises ValueError("expected ...")
    return value


def _forwarded_fields(value: tuple[str, ...]) -> tuple[str, ...]:
    from sockweb.server.proxy import check_fields

    return check_fields(value)  # raises ValueError("expected ...")


def _metrics_bind(value: str | None) -> str | None:
    """A TCP HOST:PORT or unix:PATH of its own (fd:// is for the application's sockets)."""
    if value is None:
        return None
    from sockweb.server.binds import BindSyntaxError, parse_bind

    try:
        spec = parse_bind(value)
    except BindSyntaxError as exc:
        raise ValueError(exc.expected) from None
    if spec.kind == "fd":
        raise ValueError("expected HOST:PORT or unix:PATH (not fd://)")
    return value


def _host_port(value: str | None) -> str | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT (e.g. 127.0.0.1:8125)")
    return value


def _nonempty_tuple(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("expected at least one value")
    return value


# --- the settings table -----------------------------------------------------------------------------

_SERVER_HEADER_MAX = 256


def _server_header(value: str) -> str:
    if len(value) > _SERVER_HEADER_MAX or any(c in value for c in "\r\n\0"):
        raise ValueError("expected a short header value without CR, LF or NUL")
    return value


@dataclass(frozen=True)
class Config:
    """The effective configuration of one ``sockweb serve`` run. ``Config()`` holds every default."""

    # Application
    app: str = setting(
        "",
        flag=None,
        positional=True,
        metavar="MODULE:APP",
        validate=_app_spec,
        help="The WSGI application: MODULE:NAME, or MODULE:FACTORY() to call a factory.",
        section="app",
    )
    factory: bool = setting(
        False, help="Treat APP as a factory: call it with no arguments to get the WSGI app.", section="app"
    )
    preload: bool = setting(
        False,
        help="Import the application in the master process before forking the workers "
        "(faster worker start, shared memory; HUP then re-executes the master to import the new code).",
        section="app",
    )
    chdir: str | None = setting(
        None, metavar="DIR", help="Change to DIR before loading the application.", section="app"
    )
    pythonpath: tuple[str, ...] = setting(
        (),
        metavar="DIR",
        help="Directories put first on sys.path before loading the application (repeatable or "
        "comma-separated).",
        section="app",
    )
    env: tuple[str, ...] = setting(
        (),
        short="-e",
        env=None,
        metavar="KEY=VALUE",
        validate=_env_pairs,
        help="Set an environment variable of the server and the application (repeatable).",
        section="app",
    )
    root_path: str = setting(
        "",
        metavar="PREFIX",
        validate=_root_path,
        help="Mount the application under PREFIX (e.g. /app): SCRIPT_NAME is PREFIX, and PATH_INFO "
        "loses PREFIX when the request path starts with it (else the path is served as is).",
        section="app",
    )

    # Binding and connections
    bind: tuple[str, ...] = setting(
        ("127.0.0.1:8000",),
        short="-b",
        metavar="ADDRESS",
        parse=_binds,
        validate=_nonempty_tuple,
        help="Where to listen (repeatable): HOST:PORT, [IPV6]:PORT, unix:PATH, fd://N. "
        "Systemd socket activation (LISTEN_FDS) replaces it.",
        section="bind",
    )
    backlog: int = setting(
        2048, validate=positive, help="Listen queue length of each socket.", section="bind"
    )
    umask: int | None = setting(
        None,
        parse=parse_umask,
        metavar="MODE",
        help="Octal umask applied while creating unix sockets (e.g. 007); the process umask if unset.",
        section="bind",
    )
    reuse_port: bool = setting(
        True,
        help="With several workers, give each worker its own SO_REUSEPORT socket where the OS "
        "supports it (the kernel balances connections); otherwise all share one socket.",
        section="bind",
    )
    max_connections: int = setting(
        10000,
        validate=positive,
        help="Open connections per process; more wait in the backlog.",
        section="bind",
    )
    limit_concurrency: int | None = setting(
        None,
        validate=optional_positive,
        metavar="N",
        help="Requests in flight per process (application called, response not finished); beyond it "
        "a request is answered 503 with Retry-After at once instead of waiting. Unset: no limit.",
        section="bind",
    )
    threads: int = setting(
        0,
        validate=non_negative,
        help="Threads running the application per process (0: the server's automatic policy).",
        section="bind",
    )
    dispatch: str = setting(
        "auto",
        choices=("auto", "pool", "inline"),
        help="How the application is called: in a thread pool, inline on the event loop, or auto.",
        section="bind",
    )
    loop: str = setting(
        "auto",
        choices=("auto", "asyncio", "uvloop"),
        help="Event loop implementation (auto: uvloop when installed).",
        section="bind",
    )
    write_buffer_high: int = setting(
        256 * 1024,
        validate=positive,
        metavar="BYTES",
        help="Stop reading a connection while more than this many response bytes wait to be sent.",
        section="bind",
    )
    write_buffer_low: int = setting(
        64 * 1024,
        validate=non_negative,
        metavar="BYTES",
        help="Resume reading once the pending response bytes fall below this.",
        section="bind",
    )

    # HTTP limits and timeouts
    keepalive_timeout: float = setting(
        5.0,
        validate=non_negative,
        metavar="SECONDS",
        help="Close idle keep-alive connections after this.",
        section="http",
    )
    header_timeout: float = setting(
        10.0,
        validate=positive,
        metavar="SECONDS",
        help="A whole request head must arrive within this (slow clients are disconnected).",
        section="http",
    )
    body_timeout: float = setting(
        60.0,
        validate=positive,
        metavar="SECONDS",
        help="A request body that stalls, or a client that accepts no response bytes, for this long is "
        "disconnected.",
        section="http",
    )
    max_request_line: int = setting(
        8190, validate=positive, metavar="BYTES", help="Longest request line (414 beyond).", section="http"
    )
    max_header_count: int = setting(
        100, validate=positive, help="Most header fields in a request (431 beyond).", section="http"
    )
    max_field_size: int = setting(
        8190,
        validate=positive,
        metavar="BYTES",
        help="Longest header (or trailer) field line, name and value (431 beyond).",
        section="http",
    )
    max_head_size: int = setting(
        65536, validate=positive, metavar="BYTES", help="Largest request head (431 beyond).", section="http"
    )
    max_body_size: int | None = setting(
        None,
        validate=optional_positive,
        metavar="BYTES",
        help="Largest request body (413 beyond); unlimited when unset.",
        section="http",
    )
    body_buffer: int = setting(
        4 << 20,
        validate=non_negative,
        metavar="BYTES",
        help=(
            "Collect request bodies up to this size before calling the application (0: stream every "
            "body to a worker thread as it arrives)."
        ),
        section="http",
    )
    body_buffer_budget: int = setting(
        64 << 20,
        validate=non_negative,
        metavar="BYTES",
        help=(
            "At most this many body bytes collected at once by all connections of a process; bodies "
            "beyond it stream."
        ),
        section="http",
    )
    max_chunk_ext: int = setting(
        4096,
        validate=positive,
        metavar="BYTES",
        help="Longest extension list on one chunk-size line (400 beyond).",
        section="http",
    )
    max_trailer_size: int = setting(
        16384,
        validate=positive,
        metavar="BYTES",
        help="Largest trailer section of a chunked body (431 beyond).",
        section="http",
    )
    allow_underscore_headers: bool = setting(
        False,
        help="Accept header names with '_' (refused with 400 by default: Content_Length and Content-Length "
        "would both become HTTP_CONTENT_LENGTH in the WSGI environ).",
        section="http",
    )
    server_header: str = setting(
        "sockweb", validate=_server_header, help="Value of the Server response header.", section="http"
    )
    head_memo: int = setting(
        256,
        validate=non_negative,
        metavar="N",
        help="Request heads remembered by their exact bytes, so a repeated head is not parsed again and its "
        "environ is copied, not rebuilt (0: off). See docs/server.md.",
        section="http",
    )

    # HTTP/2
    http2: bool = setting(
        False,
        validate=_http2_available,
        help="Serve HTTP/2 too (needs the h2 package: pip install 'sockweb[http2]'): TLS listeners offer "
        "h2 before http/1.1 in ALPN, cleartext listeners take h2c by prior knowledge (a connection that "
        "opens with the HTTP/2 preface) or by the Upgrade: h2c of a request without a body, and "
        "HTTP/1.1 otherwise. Off by default: without it TLS offers only http/1.1 and nothing changes "
        "for HTTP/1.1 clients.",
        section="http2",
    )
    http2_max_concurrent_streams: int = setting(
        100,
        validate=positive,
        metavar="N",
        help="SETTINGS_MAX_CONCURRENT_STREAMS: streams one HTTP/2 connection may have open at once; each "
        "is one WSGI request, dispatched like an HTTP/1.1 one.",
        section="http2",
    )
    http2_max_header_list_size: int = setting(
        65536,
        validate=positive,
        metavar="BYTES",
        help="SETTINGS_MAX_HEADER_LIST_SIZE: largest decoded header list of a request (RFC 9113 §6.5.2 "
        "size: names + values + 32 per field); beyond it the connection ends with GOAWAY.",
        section="http2",
    )
    http2_initial_window_size: int = setting(
        256 * 1024,
        validate=_window_size,
        metavar="BYTES",
        help="SETTINGS_INITIAL_WINDOW_SIZE: request body bytes a stream may send before the application "
        "has read them (the server widens the window only as wsgi.input is read). The connection's window "
        "is this times 4.",
        section="http2",
    )
    http2_max_resets: int = setting(
        200,
        validate=positive,
        metavar="N",
        help="Streams the client may reset (RST_STREAM) before their response is complete, per connection "
        "and per 10 seconds; beyond it the connection ends with GOAWAY ENHANCE_YOUR_CALM (the rapid-reset "
        "attack, CVE-2023-44487).",
        section="http2",
    )

    # Worker processes
    workers: int = setting(
        1,
        parse=parse_workers,
        validate=positive,
        metavar="N|auto",
        short="-w",
        help="Worker processes (auto: one per CPU). 1 serves from a single process, without a master.",
        section="workers",
    )
    timeout: float = setting(
        30.0,
        short="-t",
        validate=positive,
        metavar="SECONDS",
        help="A worker silent (no heartbeat) for longer than this is killed and replaced.",
        section="workers",
    )
    graceful_timeout: float = setting(
        30.0,
        validate=non_negative,
        metavar="SECONDS",
        help="On TERM or a reload, in-flight requests get this long to finish before being cut.",
        section="workers",
    )
    drain_delay: float = setting(
        0.0,
        validate=non_negative,
        metavar="SECONDS",
        help="On TERM, /readyz turns 503 at once but the server keeps accepting and serving for this long "
        "(time for a load balancer polling it to stop sending), then stops accepting and drains. A second "
        "TERM or INT skips the rest of the delay.",
        section="workers",
    )
    max_requests: int = setting(
        0,
        validate=non_negative,
        help="Recycle a worker after it served this many requests (0: never).",
        section="workers",
    )
    max_requests_jitter: int = setting(
        0,
        validate=non_negative,
        help="Add a random 0..N to --max-requests per worker, so they do not all restart at once.",
        section="workers",
    )

    # Process
    pid: str | None = setting(
        None, short="-p", metavar="FILE", help="Write the master's pid to FILE.", section="process"
    )
    user: str | None = setting(
        None,
        short="-u",
        help="Switch to this user (name or uid) after binding the sockets.",
        section="process",
    )
    group: str | None = setting(
        None,
        short="-g",
        help="Switch to this group (name or gid) after binding the sockets.",
        section="process",
    )
    proc_name: str | None = setting(
        None,
        short="-n",
        help="Base of the process titles (when setproctitle is installed).",
        section="process",
    )

    # TLS
    certfile: str | None = setting(
        None, metavar="FILE", help="PEM certificate (chain); enables HTTPS.", section="tls"
    )
    keyfile: str | None = setting(
        None, metavar="FILE", help="PEM private key (when not inside --certfile).", section="tls"
    )
    ca_certs: str | None = setting(
        None, metavar="FILE", help="CA bundle used to verify client certificates.", section="tls"
    )
    cert_reqs: str = setting(
        "none",
        choices=("none", "optional", "required"),
        help="Whether clients must present a certificate signed by --ca-certs.",
        section="tls",
    )
    ciphers: str | None = setting(
        None,
        help="OpenSSL cipher list for TLS 1.2 and older (the ssl module's default if unset).",
        section="tls",
    )

    # Reverse proxies
    forwarded_allow_ips: tuple[str, ...] = setting(
        ("127.0.0.1", "::1", "unix"),
        validate=_allow_ips,
        metavar="IPS",
        help="Peers (addresses, CIDR networks, 'unix' for unix-socket peers, or '*') whose Forwarded / "
        "X-Forwarded-* headers and PROXY protocol headers are trusted; comma-separated or repeated.",
        section="proxy",
    )
    forwarded_headers: str = setting(
        "x-forwarded",
        choices=("x-forwarded", "forwarded", "none"),
        help="The one header family believed from --forwarded-allow-ips peers: 'x-forwarded' "
        "(X-Forwarded-For/-Proto/-Host/-Port), 'forwarded' (RFC 7239) or 'none'. Forwarding headers "
        "outside --forwarded-headers/--forwarded-fields are removed from such requests' environ.",
        section="proxy",
    )
    forwarded_fields: tuple[str, ...] = setting(
        ("for", "proto"),
        validate=_forwarded_fields,
        metavar="FIELDS",
        help="Which fields of that family are applied: any of for (REMOTE_ADDR), proto (wsgi.url_scheme), "
        "host (HTTP_HOST, SERVER_NAME), port (SERVER_PORT; X-Forwarded-Port only) and prefix (SCRIPT_NAME, "
        "like --root-path; X-Forwarded-Prefix only). List only headers your proxy overwrites (or, for "
        "X-Forwarded-For, appends to).",
        section="proxy",
    )
    proxy_protocol: bool = setting(
        False,
        help="Expect a PROXY protocol (v1 or v2) header on connections from --forwarded-allow-ips.",
        section="proxy",
    )

    # Logging
    log_level: str = setting(
        "info",
        choices=("debug", "info", "warning", "error", "critical"),
        help="Error log level.",
        section="logging",
    )
    error_log: str | None = setting(
        "-", metavar="FILE", help="Error log file ('-' for stderr).", section="logging"
    )
    access_log: str | None = setting(
        None, metavar="FILE", help="Access log file ('-' for stdout); off when unset.", section="logging"
    )
    access_log_format: str = setting(
        "combined",
        validate=_access_log_format,
        metavar="FORMAT",
        help="'combined', 'common', 'json', or a format of %%(atom)s codes (see docs/operations.md).",
        section="logging",
    )
    log_config: str | None = setting(
        None,
        metavar="FILE",
        help="A logging.config.dictConfig in JSON or TOML; replaces --log-level/--error-log.",
        section="logging",
    )
    trace: bool = setting(
        False, help="Log every connection and request event (debugging).", section="logging"
    )

    # Metrics, status and health
    metrics_bind: str | None = setting(
        None,
        validate=_metrics_bind,
        metavar="ADDRESS",
        help="Serve /metrics (Prometheus text format), /status, /status.json, /healthz and /readyz on "
        "this separate listener (HOST:PORT or unix:PATH; e.g. 127.0.0.1:9100). Off when unset. With "
        "--workers N the master serves the whole server's numbers. Keep it private: the status page "
        "shows request paths.",
        section="metrics",
    )
    statsd_host: str | None = setting(
        None,
        validate=_host_port,
        metavar="HOST:PORT",
        help="Also push the metrics once a second over UDP to this statsd (or dogstatsd) agent.",
        section="metrics",
    )
    statsd_prefix: str = setting("sockweb", help="Prefix of the statsd metric names.", section="metrics")
    dogstatsd_tags: tuple[str, ...] = setting(
        (),
        metavar="TAGS",
        help="Send dogstatsd tags (the |# extension) with every metric: these (e.g. env:prod), plus the "
        "labels (method, status, worker); plain statsd names when unset.",
        section="metrics",
    )

    # Development (handled by the development server, declared here so they show in one place)
    reload: bool = setting(
        False, help="Restart when source files change (development server).", section="dev"
    )
    debug: bool = setting(
        False,
        help="Interactive debugger on errors (development server; never in production). Also turns on "
        "the app's own debug mode (a settable 'debug' property, as on sockweb's App or Flask), so its "
        "errors reach the debugger.",
        section="dev",
    )

    # Configuration
    config: str | None = setting(
        None,
        short="-c",
        metavar="FILE",
        in_file=False,
        help="Config file: TOML (top-level keys, or [tool.sockweb] in a pyproject.toml), or Python "
        "(FILE.py: its module-level names that are settings, server hooks included). "
        "Default: [tool.sockweb] of ./pyproject.toml when present.",
        section="config",
    )
    print_config: bool = setting(
        False,
        env=None,
        in_file=False,
        switch=True,
        help="Print the effective configuration as TOML and exit.",
        section="config",
    )
    check_config: bool = setting(
        False,
        env=None,
        in_file=False,
        switch=True,
        help="Validate the configuration, import the application, and exit (0 if good, 1 if not).",
        section="config",
    )

    # Server hooks (see sockweb.server.hooks for the arguments and what a failure does)
    on_starting: Hook | None = _hook_setting(
        "on_starting", "before the sockets are bound. A failure stops start-up."
    )
    when_ready: Hook | None = _hook_setting(
        "when_ready", "once the server listens (and its workers are forked). A failure stops the server."
    )
    pre_fork: Hook | None = _hook_setting("pre_fork", "in the master, before a worker is forked.")
    post_fork: Hook | None = _hook_setting(
        "post_fork", "in a worker, just after the fork. A failure is a worker boot error."
    )
    post_worker_init: Hook | None = _hook_setting(
        "post_worker_init",
        "in a worker (or the single process), once the application is loaded. A failure is a boot error.",
    )
    worker_int: Hook | None = _hook_setting("worker_int", "in a worker, on SIGINT or SIGQUIT.")
    worker_abort: Hook | None = _hook_setting(
        "worker_abort", "in a worker, on SIGABRT (sent by the master when the worker exceeds --timeout)."
    )
    worker_exit: Hook | None = _hook_setting(
        "worker_exit", "in a worker (or the single process), once it has stopped serving."
    )
    pre_request: Hook | None = _hook_setting(
        "pre_request", "before the application is called for a request (in the thread that calls it)."
    )
    post_request: Hook | None = _hook_setting(
        "post_request", "once the response of a request has been handed over (or the request failed)."
    )
    child_exit: Hook | None = _hook_setting(
        "child_exit", "in the master, after a worker exited (worker.exit_code holds its status)."
    )
    on_exit: Hook | None = _hook_setting("on_exit", "just before the server exits.")
    nworkers_changed: Hook | None = _hook_setting(
        "nworkers_changed", "in the master, at start (old_value None) and when TTIN/TTOU change the count."
    )
    on_reload: Hook | None = _hook_setting("on_reload", "on SIGHUP, before the reload starts.")

    def __post_init__(self) -> None:
        for spec in SETTINGS_BY_NAME.values():
            value = getattr(self, spec.name)
            try:
                _check(spec, value)
            except ValueError as exc:
                raise ConfigError(f"{spec.name}: {exc}, got {_show(value)}") from None
        if self.write_buffer_low > self.write_buffer_high:
            raise ConfigError("write_buffer_low: expected a value <= write_buffer_high")
        if self.keyfile and not self.certfile:
            raise ConfigError("--keyfile: expected --certfile too")
        if self.ca_certs is None and self.cert_reqs != "none":
            raise ConfigError("--cert-reqs: 'optional' and 'required' need --ca-certs")


def _make_settings() -> tuple[Setting, ...]:
    out = []
    for f in dataclasses.fields(Config):
        meta = f.metadata["sockweb"]
        flag = meta["flag"]
        env = meta["env"]
        out.append(
            Setting(
                name=f.name,
                type=str(f.type),
                default=f.default,
                validate=meta["validate"],
                flag=("--" + f.name.replace("_", "-")) if flag == "" else flag,
                env=("SOCKWEB_" + f.name.upper()) if env == "" else env,
                help=meta["help"],
                section=meta["section"],
                choices=meta["choices"],
                metavar=meta["metavar"],
                short=meta["short"],
                parse=meta["parse"],
                in_file=meta["in_file"],
                positional=meta["positional"],
                switch=meta["switch"],
            )
        )
    return tuple(out)


SETTINGS: tuple[Setting, ...] = _make_settings()
SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
_BY_FILE_KEY: dict[str, Setting] = {
    key: s for s in SETTINGS if s.in_file for key in (s.name, s.name.replace("_", "-"))
}


def _show(raw: object) -> str:
    return repr(raw) if not isinstance(raw, tuple) else repr(list(raw))


def _check(spec: Setting, value: object) -> object:
    if spec.choices is not None and value not in spec.choices:
        raise ValueError("expected one of " + ", ".join(repr(c) for c in spec.choices))
    if spec.validate is not None and value is not None:
        value = spec.validate(value)
    return value


def convert(spec: Setting, raw: Raw) -> object:
    """Parse and validate one raw value for ``spec``; raises ValueError("expected ...")."""
    parser = spec.parse or PARSERS[spec.type]
    value = parser(raw)
    if isinstance(value, str) and spec.choices is not None:
        value = value.lower()
    return _check(spec, value)


def _convert_all(raw: Mapping[str, Raw], where: Callable[[Setting], str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in raw.items():
        spec = SETTINGS_BY_NAME[name]
        try:
            out[name] = convert(spec, value)
        except ValueError as exc:
            got = exc.item if isinstance(exc, _BadItem) else value
            raise ConfigError(f"{where(spec)}: {exc}, got {_show(got)}") from None
    return out


# --- sources --------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors share the one-line format."""

    def error(self, message: str) -> NoReturn:
        # A gunicorn option: answer with sockweb's spelling rather than a bare "unrecognized".
        for word in message.split():
            answer = _GUNICORN_FLAGS.get(word.partition("=")[0])
            if message.startswith("unrecognized arguments") and answer is not None:
                raise ConfigError(f"unrecognized argument {word} (a gunicorn option): {_answer(answer)}")
        raise ConfigError(message)


def build_parser(prog: str = "sockweb serve") -> argparse.ArgumentParser:
    """The ``sockweb serve`` argument parser, generated from the table (every default is SUPPRESS)."""
    parser = _Parser(
        prog=prog,
        description="Serve a WSGI application over HTTP/1.1. Every option can also be set with its "
        "SOCKWEB_* environment variable or in a TOML config file; see docs/settings.md.",
        argument_default=argparse.SUPPRESS,
    )
    groups = {key: parser.add_argument_group(title) for key, title in SECTIONS.items()}
    for spec in SETTINGS:
        group = groups[spec.section]
        help_ = spec.help + ("" if spec.env is None else f" [env {spec.env}]")
        if spec.positional:
            group.add_argument(spec.name, nargs="?", metavar=spec.metavar, help=help_)
            continue
        if spec.flag is None:
            continue
        names = [spec.flag] + ([spec.short] if spec.short else [])
        kwargs: dict[str, Any] = {"dest": spec.name, "help": help_}
        if spec.type == "bool":
            kwargs["action"] = "store_true" if spec.switch else argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = spec.metavar or spec.name.upper()
            if spec.choices is not None:
                kwargs["metavar"] = "{" + ",".join(spec.choices) + "}"
            if spec.type == "tuple[str, ...]":
                kwargs["action"] = "append"
        group.add_argument(*names, **kwargs)
    return parser


def _from_cli(argv: Sequence[str], prog: str) -> dict[str, Raw]:
    namespace = build_parser(prog).parse_args(list(argv))  # usage errors raise ConfigError
    raw: dict[str, Raw] = dict(vars(namespace))
    for name, value in list(raw.items()):
        if isinstance(value, list):  # an `append` option: join the occurrences
            raw[name] = [str(v) for v in value]
    return _convert_all(raw, lambda s: s.flag or s.metavar or s.name)


def _from_env(environ: Mapping[str, str]) -> dict[str, object]:
    raw: dict[str, Raw] = {s.name: environ[s.env] for s in SETTINGS if s.env and s.env in environ}
    return _convert_all(raw, lambda s: str(s.env))


def parse_toml(text: str) -> dict[str, object]:
    """``tomllib.loads`` (``tomli`` on Python 3.10); raises ValueError on invalid TOML."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    data: dict[str, object] = tomllib.loads(text)
    return data


def _load_toml(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(f"--config: cannot read {str(path)!r}: {reason or exc}") from None
    try:
        return parse_toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"{path.name}: invalid TOML: {exc}") from None


def _from_file(path: Path, *, pyproject: bool) -> dict[str, object]:
    data = _load_toml(path)
    label = path.name
    if pyproject or "tool" in data:
        tool = data.get("tool")
        section = tool.get("sockweb") if isinstance(tool, dict) else None
        if section is None:
            return {}
        if not isinstance(section, dict):
            raise ConfigError(f"{label}: [tool.sockweb] must be a table")
        data = section
        label = f"{path.name} [tool.sockweb]"
    raw: dict[str, Raw] = {}
    for key, value in data.items():
        spec = _BY_FILE_KEY.get(key)
        if spec is None:
            raise ConfigError(f"{label}: {_unknown_key(key)}")
        if spec.type == HOOK_TYPE:
            raise ConfigError(
                f"{label}: {key!r} is a server hook: define it as a function in a Python config file "
                "(--config sockweb.conf.py)"
            )
        raw[spec.name] = value
    return _convert_all(raw, lambda s: f"{s.name} in {label}")


HOOK_TYPE = "Hook | None"

# gunicorn's setting names that sockweb spells differently (or has no equivalent of): the answer to a
# config key or a long option a gunicorn user types. docs/migrating-from-gunicorn.md maps them all.
GUNICORN_NAMES: dict[str, str] = {
    "raw_env": "'env' (-e/--env KEY=VALUE)",
    "keepalive": "'keepalive_timeout' (--keepalive-timeout)",
    "keep_alive": "'keepalive_timeout' (--keepalive-timeout)",
    "limit_request_field_size": "'max_field_size' (--max-field-size)",
    "limit_request_fields": "'max_header_count' (--max-header-count)",
    "limit_request_line": "'max_request_line' (--max-request-line)",
    "worker_connections": "'max_connections' (--max-connections)",
    "accesslog": "'access_log' (--access-log)",
    "access_logfile": "'access_log' (--access-log)",
    "errorlog": "'error_log' (--error-log)",
    "error_logfile": "'error_log' (--error-log)",
    "loglevel": "'log_level' (--log-level)",
    "logconfig_dict": "'log_config' (--log-config FILE, JSON or TOML)",
    "logconfig": "'log_config' (--log-config FILE, JSON or TOML)",
    "logconfig_json": "'log_config' (--log-config FILE)",
    "preload_app": "'preload' (--preload)",
    "proxy_allow_ips": "'forwarded_allow_ips' (--forwarded-allow-ips)",
    "pidfile": "'pid' (--pid)",
    "secure_scheme_headers": "'forwarded_headers' and 'forwarded_fields'",
    "forwarder_headers": "'forwarded_headers' and 'forwarded_fields'",
    "worker_class": "nothing: there is one worker type (an event loop and a thread pool; see --threads)",
    "worker_tmp_dir": "nothing: heartbeats live in shared memory, no file is needed",
    "daemon": "nothing: run sockweb under systemd or a process supervisor",
    "wsgi_app": "'app' (the MODULE:APP argument)",
}
# gunicorn's command-line options whose sockweb spelling differs (the same-named ones simply work).
_GUNICORN_FLAGS: dict[str, str] = {
    "--keep-alive": GUNICORN_NAMES["keepalive"],
    "--limit-request-field_size": GUNICORN_NAMES["limit_request_field_size"],
    "--limit-request-field-size": GUNICORN_NAMES["limit_request_field_size"],
    "--limit-request-fields": GUNICORN_NAMES["limit_request_fields"],
    "--limit-request-line": GUNICORN_NAMES["limit_request_line"],
    "--worker-connections": GUNICORN_NAMES["worker_connections"],
    "--access-logfile": GUNICORN_NAMES["accesslog"],
    "--access-logformat": "'access_log_format' (--access-log-format; gunicorn's atoms work)",
    "--error-logfile": GUNICORN_NAMES["errorlog"],
    "--log-file": GUNICORN_NAMES["errorlog"],
    "--log-config-json": GUNICORN_NAMES["logconfig_json"],
    "--name": "'proc_name' (-n/--proc-name)",
    "--proxy-allow-from": GUNICORN_NAMES["proxy_allow_ips"],
    "--forwarder-headers": GUNICORN_NAMES["forwarder_headers"],
    "-k": GUNICORN_NAMES["worker_class"],
    "--worker-class": GUNICORN_NAMES["worker_class"],
    "--worker-tmp-dir": GUNICORN_NAMES["worker_tmp_dir"],
    "-D": GUNICORN_NAMES["daemon"],
    "--daemon": GUNICORN_NAMES["daemon"],
    "-m": "'umask' (--umask)",
    "--paste": "nothing: give the WSGI application as MODULE:APP (see docs/migrating-from-gunicorn.md)",
}


def _answer(answer: str) -> str:
    if answer.startswith("nothing: "):
        return "sockweb has no equivalent: " + answer.removeprefix("nothing: ")
    return "sockweb's is " + answer


def _unknown_key(key: str) -> str:
    """The message for an unknown config key: gunicorn's spelling answered, else the closest name."""
    if key in GUNICORN_NAMES:
        return f"unknown setting {key!r} (a gunicorn setting): {_answer(GUNICORN_NAMES[key])}"
    close = _closest(key)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"unknown setting {key!r}{hint}; see docs/settings.md"


def _closest(key: str) -> str | None:
    import difflib

    names = [s.name for s in SETTINGS if s.in_file]
    found = difflib.get_close_matches(key.replace("-", "_"), names, n=1, cutoff=0.75)
    return found[0] if found else None


def _from_pyfile(path: Path) -> dict[str, object]:
    """A Python config file: executed, and its module-level names that are settings taken.

    Names starting with "_", modules and classes are the file's own business. Another unknown name
    that is close to a setting's is an error when it holds a value (a typo: ``worker = 4``), a warning
    when it holds a function (a helper, or a mistyped hook); other unknown names are ignored with a
    warning.
    """
    import runpy
    import types
    import warnings

    label = path.name
    try:
        namespace = runpy.run_path(str(path), run_name="__sockweb_config__")
    except SyntaxError as exc:
        raise ConfigError(f"{label}: invalid Python, line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        raise ConfigError(f"{label}: raised {type(exc).__name__}: {exc}") from None
    raw: dict[str, Raw] = {}
    for key, value in namespace.items():
        if key.startswith("_") or isinstance(value, (types.ModuleType, type)):
            continue
        spec = SETTINGS_BY_NAME.get(key)
        if spec is not None and spec.in_file:
            raw[key] = value
            continue
        close = _closest(key)
        if key in GUNICORN_NAMES or (close is not None and not callable(value)):
            raise ConfigError(f"{label}: {_unknown_key(key)}")
        hint = f" (did you mean {close!r}?)" if close else ""
        warnings.warn(f"{label}: {key!r} is not a setting: ignored{hint}", ConfigWarning, stacklevel=1)
    return _convert_all(raw, lambda s: f"{s.name} in {label}")


class ConfigWarning(UserWarning):
    """A config file name that is not a setting (ignored); shown on stderr at start-up."""


def load_config(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    *,
    prog: str = "sockweb serve",
) -> Config:
    """Build the effective :class:`Config`: command line > environment > config file > defaults.

    The config file is ``--config FILE`` (or ``SOCKWEB_CONFIG``), relative to ``cwd``; without one,
    ``[tool.sockweb]`` of ``cwd/pyproject.toml`` is used when present. Raises :class:`ConfigError`.
    """
    environ = os.environ if environ is None else environ
    base = Path(os.getcwd() if cwd is None else cwd)
    cli = _from_cli(argv, prog)
    env = _from_env(environ)
    config_name = cli.get("config", env.get("config"))
    if isinstance(config_name, str):
        path = base / config_name
        if not path.is_file():
            raise ConfigError(f"--config: no such file: {config_name!r}")
        if path.suffix == ".py":
            file_values = _from_pyfile(path)
        else:
            file_values = _from_file(path, pyproject=path.name == "pyproject.toml")
    elif (base / "pyproject.toml").is_file():
        file_values = _from_file(base / "pyproject.toml", pyproject=True)
    else:
        file_values = {}
    merged = {**file_values, **env, **cli}
    try:
        return Config(**merged)  # type: ignore[arg-type]  # values checked per setting above
    except ConfigError as exc:
        raise ConfigError(_flag_message(str(exc))) from None


def _flag_message(message: str) -> str:
    """Rename a leading ``name:`` to its ``--flag:`` for cross-setting errors raised by Config."""
    name, sep, rest = message.partition(":")
    spec = SETTINGS_BY_NAME.get(name)
    return f"{spec.flag}:{rest}" if sep and spec and spec.flag else message


# --- output: TOML and Markdown -------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    escaped = "".join(
        c if c.isprintable() and c not in '"\\' else ("\\" + c if c in '"\\' else f"\\u{ord(c):04x}")
        for c in text
    )
    return f'"{escaped}"'


def render_toml(config: Config) -> str:
    """The effective configuration as a TOML file that ``--config`` reads back to the same Config."""
    lines: list[str] = []
    for key, title in SECTIONS.items():
        specs = [s for s in SETTINGS if s.section == key and s.in_file and s.type != HOOK_TYPE]
        if not specs:
            continue
        lines.append(f"# {title}")
        for spec in specs:
            value = getattr(config, spec.name)
            if value is None:
                lines.append(f"# {spec.name} = (unset)")
            else:
                lines.append(f"{spec.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _md_default(spec: Setting) -> str:
    if spec.default is None:
        return "unset"
    return f"`{_toml_value(spec.default)}`"


def render_markdown() -> str:
    """docs/settings.md: every setting, by section, with its flag, environment variable and default."""
    out = [
        "# Settings",
        "",
        "<!-- Generated by `python -m sockweb.server.config --markdown > docs/settings.md`; do not edit. -->",
        "",
        "Every setting of `sockweb serve` can be given on the command line, in an environment variable, or "
        "in a TOML file (`--config FILE`, or `[tool.sockweb]` in `./pyproject.toml`). Precedence: command "
        "line > environment > file > defaults. File keys are the setting names below (`max_requests = 1000`, "
        '`bind = ["0.0.0.0:8000"]`). `--print-config` prints the effective configuration in that format. '
        "A Python config file (`--config sockweb.conf.py`) sets the same names as module-level variables, "
        "and is the only place for the server hooks (functions; see docs/operations.md).",
        "",
    ]
    for key, title in SECTIONS.items():
        specs = [s for s in SETTINGS if s.section == key]
        out += [f"## {title}", ""]
        for spec in specs:
            out += [f"### `{spec.name}`", "", spec.help.replace("%%", "%"), ""]
            if spec.type == HOOK_TYPE:
                out += [f"- Python config file only: `def {spec.name}(...)`; default: unset", ""]
                continue
            if spec.positional:
                cli = f"`{spec.metavar}` (argument)"
            elif spec.type == "bool" and not spec.switch:
                cli = f"`{spec.flag}` / `--no-{spec.flag[2:] if spec.flag else ''}`"
            else:
                cli = f"`{spec.flag}`" + (f", `{spec.short}`" if spec.short else "")
            out.append(f"- command line: {cli}")
            out.append(f"- environment: {'`' + spec.env + '`' if spec.env else 'no'}")
            out.append(f"- config file: {'`' + spec.name + '`' if spec.in_file else 'no'}")
            kind = f"`{spec.type}`" if spec.choices is None else ", ".join(f"`{c}`" for c in spec.choices)
            out.append(f"- type: {kind}" if spec.choices is None else f"- one of: {kind}")
            out.append(f"- default: {_md_default(spec)}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--markdown"]:
        sys.stdout.write(render_markdown())
        return 0
    print("usage: python -m sockweb.server.config --markdown", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
