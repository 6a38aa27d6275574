"""Tracebacks as data, and the debugger's HTML page built from them.

Strategy: :func:`capture` walks an exception (and its ``__cause__`` / ``__context__`` chain, as Python
prints it) once, right after it was caught, into plain records: for every frame its file, line, function,
a few lines of source around the failing line (read through :mod:`linecache`, so sources from zip imports
or loaders work too) and a truncated ``repr`` of each local variable. The live frame objects are kept next
to the records, because the interactive console evaluates code in them later.

Rendering is string building with every piece of text that comes from the program (exception messages,
file names, source lines, reprs, even function names) passed through :func:`html.escape`: a local holding
``<script>`` shows up as text. The page carries its CSS inline and a small vanilla script (allowed by a
per-response CSP nonce) that drives the console; without the console it is plain HTML, frames expand with
``<details>``.
"""

from __future__ import annotations

import html
import linecache
import reprlib
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field
from types import FrameType, TracebackType

__all__ = [
    "CapturedTraceback",
    "FrameInfo",
    "capture",
    "render_page",
    "render_text",
    "safe_repr",
]

CONTEXT_LINES = 4  # source lines shown before and after the failing one
MAX_LOCALS = 60  # per frame; a frame with more shows the first ones and says so
MAX_REPR = 400  # characters of one local's repr


class _SafeRepr(reprlib.Repr):
    def repr_instance(self, obj: object, level: int) -> str:
        try:
            text = repr(obj)
        except Exception as exc:  # say so, rather than reprlib's anonymous "<X instance at ...>"
            return f"<repr of {type(obj).__name__} failed: {type(exc).__name__}>"
        limit = self.maxother
        return text if len(text) <= limit else text[: limit - 1] + "\u2026"


_repr = _SafeRepr()
_repr.maxstring = MAX_REPR
_repr.maxother = MAX_REPR
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 20
_repr.maxdict = 20
_repr.maxlevel = 3

_LIBRARY_PREFIXES = tuple(
    {p for key in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_paths().get(key))}
)


def safe_repr(value: object, limit: int = MAX_REPR) -> str:
    """``repr`` that never raises and never returns more than ``limit`` characters."""
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the error page
        text = f"<repr of {type(value).__name__} failed: {type(exc).__name__}>"
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


@dataclass
class FrameInfo:
    """One frame of a traceback, as shown on the page."""

    id: str
    filename: str
    lineno: int
    function: str
    source: list[tuple[int, str]]  # (line number, text) around ``lineno``
    locals: list[tuple[str, str]]  # (name, truncated repr)
    hidden_locals: int  # how many locals were left out
    is_library: bool
    frame: FrameType = field(repr=False)


@dataclass
class ExceptionInfo:
    """One exception of a chain: its type, message and frames."""

    type_name: str
    message: str
    frames: list[FrameInfo]
    link: str  # sentence printed before it ("" for the first of the chain)


@dataclass
class CapturedTraceback:
    """An exception chain, oldest first (the order Python prints), plus its plain-text form."""

    id: str
    chain: list[ExceptionInfo]
    text: str

    @property
    def last(self) -> ExceptionInfo:
        return self.chain[-1]

    def frames(self) -> dict[str, FrameInfo]:
        return {frame.id: frame for exc in self.chain for frame in exc.frames}


_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exceptions Python would print for ``exc``, oldest first, with the sentence linking each."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    found.reverse()
    # each link belongs between an exception and the next one printed after it
    links = [link for _, link in found]
    return [(e, links[i - 1] if i else "") for i, (e, _) in enumerate(found)]


def _source(filename: str, lineno: int, module_globals: dict[str, object]) -> list[tuple[int, str]]:
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return []
    first = max(1, lineno - CONTEXT_LINES)
    last = min(len(lines), lineno + CONTEXT_LINES)
    return [(n, lines[n - 1].rstrip("\r\n")) for n in range(first, last + 1)]


def _frame(frame: FrameType, lineno: int, frame_id: str) -> FrameInfo:
    code = frame.f_code
    names = list(frame.f_locals.items())
    shown = names[:MAX_LOCALS]
    return FrameInfo(
        id=frame_id,
        filename=code.co_filename,
        lineno=lineno,
        function=getattr(code, "co_qualname", code.co_name),
        source=_source(code.co_filename, lineno, frame.f_globals),
        locals=[(str(name), safe_repr(value)) for name, value in shown],
        hidden_locals=len(names) - len(shown),
        is_library=code.co_filename.startswith(_LIBRARY_PREFIXES) or code.co_filename.startswith("<"),
        frame=frame,
    )


def capture(exc: BaseException, tb_id: str, skip: int = 0) -> CapturedTraceback:
    """Record ``exc`` and its chain; ``skip`` drops that many outermost frames of ``exc`` itself
    (the middleware's own frame)."""
    chain: list[ExceptionInfo] = []
    counter = 0
    for item, link in _chain(exc):
        tb: TracebackType | None = item.__traceback__
        walked = list(traceback.walk_tb(tb))
        if item is exc:
            walked = walked[skip:]
        frames = []
        for frame, lineno in walked:
            frames.append(_frame(frame, lineno or frame.f_lineno, f"{tb_id}-{counter}"))
            counter += 1
        chain.append(ExceptionInfo(type(item).__qualname__, _message(item), frames, link))
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list(list(summary.stack)[skip:])
    return CapturedTraceback(tb_id, chain, "".join(summary.format()))


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<str() of {type(exc).__name__} failed>"


# -- rendering ------------------------------------------------------------------------------------

_e = html.escape

_CSS = """
:root { color-scheme: light; --fg:#1d232b; --muted:#5d6773; --line:#d9dee4; --accent:#b3261e; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg);
  background:#fff; }
header { background:var(--accent); color:#fff; padding:18px 28px; }
header h1 { margin:0; font-size:22px; font-weight:600; }
header p { margin:6px 0 0; white-space:pre-wrap; word-break:break-word; }
header .req { opacity:.85; font-size:13px; font-family:ui-monospace,Menlo,Consolas,monospace; }
main { padding:10px 28px 40px; max-width:1200px; }
h2 { font-size:16px; margin:22px 0 8px; }
h2 small { font-weight:400; color:var(--muted); }
.link { color:var(--muted); font-style:italic; margin:18px 0 6px; }
details.frame { border:1px solid var(--line); border-radius:6px; margin:6px 0; background:#fff; }
details.frame.lib { background:var(--bg); }
details.frame > summary { cursor:pointer; padding:7px 12px; font-size:13.5px; list-style-position:inside; }
details.frame.lib > summary { color:var(--muted); }
summary code { font-family:ui-monospace,Menlo,Consolas,monospace; }
summary .fn { font-weight:600; }
pre.src { margin:0; padding:6px 0; background:#fbfbfc; border-top:1px solid var(--line); overflow-x:auto;
  font:12.5px/1.5 ui-monospace,Menlo,Consolas,monospace; }
pre.src span { display:block; padding:0 12px; white-space:pre; }
pre.src span.cur { background:#fde7e5; }
pre.src i { display:inline-block; width:4.5em; color:var(--muted); font-style:normal; user-select:none; }
table.locals { border-collapse:collapse; width:100%; font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace;
  border-top:1px solid var(--line); }
table.locals th, table.locals td { text-align:left; vertical-align:top; padding:3px 12px; }
table.locals th { width:14em; color:#0b5394; font-weight:500; white-space:nowrap; }
table.locals td { white-space:pre-wrap; word-break:break-all; }
table.locals tr:nth-child(even) { background:var(--bg); }
.note { color:var(--muted); font-size:12.5px; padding:4px 12px; }
.tools { padding:6px 12px; border-top:1px solid var(--line); }
button { font:inherit; font-size:12.5px; padding:3px 10px; border:1px solid #b9c0c8; border-radius:4px;
  background:#fff; cursor:pointer; }
form.console { margin:0; border-top:1px solid var(--line); background:#20252b; color:#e8eaed; }
form.console pre { margin:0; padding:6px 12px; max-height:24em; overflow:auto; white-space:pre-wrap;
  font:12.5px/1.45 ui-monospace,Menlo,Consolas,monospace; }
form.console pre .in { color:#8ab4f8; } form.console pre .err { color:#f28b82; }
form.console input { width:100%; border:0; border-top:1px solid #3c4043; padding:6px 12px; background:#20252b;
  color:#fff; font:12.5px ui-monospace,Menlo,Consolas,monospace; outline:none; }
#pin { position:fixed; right:20px; top:20px; background:#fff; border:1px solid var(--line); border-radius:8px;
  padding:14px 16px; box-shadow:0 6px 24px rgba(0,0,0,.18); max-width:330px; font-size:13.5px; }
#pin input { font:16px ui-monospace,monospace; width:12em; padding:3px 6px; margin:6px 6px 0 0; }
#pin .msg { color:var(--accent); margin-top:6px; }
textarea { width:100%; height:16em; font:12.5px/1.45 ui-monospace,Menlo,Consolas,monospace; padding:8px;
  border:1px solid var(--line); border-radius:6px; background:var(--bg); }
footer { color:var(--muted); font-size:12.5px; margin-top:26px; }
"""

_JS = """
(function () {
  var base = document.body.dataset.base, secret = document.body.dataset.secret;
  var pinBox = document.getElementById("pin"), pending = null;
  function line(out, text, cls) {
    var s = document.createElement("span"); s.textContent = text; if (cls) s.className = cls;
    out.appendChild(s); out.scrollTop = out.scrollHeight;
  }
  function post(path, fields) {
    fields.s = secret;
    return fetch(base + path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: new URLSearchParams(fields).toString()});
  }
  function run(form, cmd) {
    var out = form.querySelector("pre");
    post("/console", {frame: form.dataset.frame, cmd: cmd}).then(function (r) {
      return r.text().then(function (t) {
        if (r.status === 401) {
          pending = [form, cmd]; pinBox.hidden = false; pinBox.querySelector("input").focus(); return;
        }
        line(out, t, r.ok ? "" : "err");
      });
    });
  }
  document.querySelectorAll("button.open-console").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = document.getElementById("console-" + b.dataset.frame);
      f.hidden = !f.hidden; if (!f.hidden) f.querySelector("input").focus();
    });
  });
  document.querySelectorAll("form.console").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = form.querySelector("input"), cmd = input.value; input.value = "";
      line(form.querySelector("pre"), ">>> " + cmd + "\\n", "in"); run(form, cmd);
    });
  });
  if (pinBox) pinBox.querySelector("form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = pinBox.querySelector("input"), msg = pinBox.querySelector(".msg");
    post("/pin", {pin: input.value}).then(function (r) {
      return r.text().then(function (t) {
        if (!r.ok) { msg.textContent = t; return; }
        pinBox.hidden = true; msg.textContent = ""; input.value = "";
        if (pending) { run(pending[0], pending[1]); pending = null; }
      });
    });
  });
})();
"""


def _frame_html(frame: FrameInfo, open_: bool, console: bool) -> str:
    classes = "frame lib" if frame.is_library else "frame"
    parts = [
        f'<details class="{classes}" id="frame-{_e(frame.id)}"{" open" if open_ else ""}>',
        f"<summary>File <code>{_e(frame.filename)}</code>, line {frame.lineno}, in "
        f'<code class="fn">{_e(frame.function)}</code></summary>',
    ]
    if frame.source:
        rows = []
        for number, text in frame.source:
            cls = ' class="cur"' if number == frame.lineno else ""
            rows.append(f"<span{cls}><i>{number}</i>{_e(text)}</span>")
        parts.append(f'<pre class="src">{"".join(rows)}</pre>')
    else:
        parts.append('<div class="note">source not available</div>')
    if frame.locals:
        rows = [f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in frame.locals]
        parts.append(f'<table class="locals">{"".join(rows)}</table>')
        if frame.hidden_locals:
            parts.append(f'<div class="note">{frame.hidden_locals} more local variables not shown</div>')
    if console:
        fid = _e(frame.id)
        parts.append(
            f'<div class="tools"><button type="button" class="open-console" data-frame="{fid}">'
            "Console in this frame</button></div>"
            f'<form class="console" id="console-{fid}" data-frame="{fid}" hidden>'
            '<pre aria-live="polite"></pre><input name="cmd" autocomplete="off" spellcheck="false" '
            'placeholder="&gt;&gt;&gt; Python, evaluated in this frame"></form>'
        )
    parts.append("</details>")
    return "".join(parts)


def render_page(
    captured: CapturedTraceback,
    *,
    request_line: str,
    console: bool,
    base: str,
    secret: str,
    nonce: str,
    title: str = "Unhandled exception",
) -> str:
    """The whole debugger page. ``console`` adds the per-frame consoles and the PIN prompt (which still
    need the PIN on the server side: hiding them is convenience, not security)."""
    last = captured.last
    body: list[str] = []
    for exc in captured.chain:
        if exc.link:
            body.append(f'<p class="link">{_e(exc.link)}</p>')
        body.append(
            f"<h2>{_e(exc.type_name)}: {_e(exc.message)} <small>(most recent call last)</small></h2>"
            if len(captured.chain) > 1
            else "<h2>Traceback <small>(most recent call last)</small></h2>"
        )
        app_frames = [f for f in exc.frames if not f.is_library]
        to_open = (app_frames or exc.frames)[-1:] if exc is last else []
        body.extend(_frame_html(f, f in to_open, console) for f in exc.frames)
    pin_box = ""
    script = ""
    if console:
        pin_box = (
            '<div id="pin" hidden><form><b>Console locked.</b><br>Enter the debugger PIN printed on the '
            'terminal running the server:<br><input name="pin" autocomplete="off" inputmode="numeric">'
            '<button type="submit">Unlock</button><div class="msg"></div></form></div>'
        )
        script = f'<script nonce="{_e(nonce)}">{_JS}</script>'
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(last.type_name)}: {_e(last.message[:200])}'
        f" // sockweb debugger</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_CSS}</style></head>"
        f'<body data-base="{_e(base)}" data-secret="{_e(secret)}">'
        f"<header><h1>{_e(last.type_name)}</h1><p>{_e(last.message)}</p>"
        f'<p class="req">{_e(title)} while handling {_e(request_line)}</p></header>'
        f"<main>{''.join(body)}"
        "<h2>Plain-text traceback <small>(to copy)</small></h2>"
        f'<textarea readonly id="plain">{_e(captured.text)}</textarea>'
        "<footer>sockweb development server debugger. Never run it in production: it shows your "
        "source code and local variables to whoever triggers an error.</footer>"
        f"</main>{pin_box}{script}</body></html>\n"
    )


def render_text(captured: CapturedTraceback) -> str:
    """The plain-text page (for clients that do not accept HTML)."""
    return captured.text


def format_current_exception() -> str:
    """Plain-text traceback of the exception being handled (for logs and the import-error page)."""
    return "".join(traceback.format_exception(*sys.exc_info()))
