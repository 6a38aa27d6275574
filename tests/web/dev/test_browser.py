"""The development server seen from headless Chromium: the debugger page, its console, and a reload."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._proc import Proc, eventually, request, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="chromium is not installed (install Debian's chromium to run the browser tests)",
    ),
]


def chromium(*args: str) -> str:
    """Run headless Chromium with a throw-away profile; its stdout (``--dump-dom`` prints the DOM)."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=45,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# A page of the app under test that drives the debugger page in a same-origin iframe like a user would:
# open the console of the failing frame, type an expression, get asked for the PIN, type it, read the
# answer. The PIN comes from the environment the development server hands to its child.
DRIVER = """<!doctype html><html><head><title>driver</title></head><body>
<iframe id="f" src="/boom" width="900" height="600"></iframe><div id="result">pending</div>
<script>
var PIN = "%s";
function until(test, then, n) {
  n = n || 0;
  var v = test();
  if (v) return then(v);
  if (n > 400) { document.getElementById("result").textContent = "TIMEOUT"; return; }
  setTimeout(function () { until(test, then, n + 1); }, 25);
}
document.getElementById("f").addEventListener("load", function () {
  var doc = this.contentDocument;
  var button = doc.querySelector("details[open] button.open-console");
  button.click();
  var form = doc.getElementById("console-" + button.dataset.frame);
  form.querySelector("input").value = "secret_value * 2";
  form.requestSubmit();
  until(function () { return !doc.getElementById("pin").hidden; }, function () {
    var pin = doc.getElementById("pin");
    pin.querySelector("input").value = PIN;
    pin.querySelector("form").requestSubmit();
    until(function () {
      var text = form.querySelector("pre").textContent;
      return text.indexOf("42") >= 0 && text;
    }, function (text) { document.getElementById("result").textContent = "CONSOLE:" + text; });
  });
});
</script></body></html>"""

VIEWS = """\
import os

VERSION = "browser v1"
DRIVER = {driver!r}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        secret_value = 21
        hostile = "<script>document.title='owned'</script><img src=x onerror=alert(1)>"
        raise ValueError("boom: " + hostile)
    if path == "/driver":
        body = (DRIVER % os.environ.get("SOCKWEB_DEBUGGER_PIN", "")).encode()
        kind = "text/html"
    else:
        body = ("<!doctype html><title>v</title><p id=version>" + VERSION + "</p>").encode()
        kind = "text/html"
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]
"""

SCRIPT = """\
from sockweb.web.dev import run_simple
import views

if __name__ == "__main__":
    run_simple("127.0.0.1", 0, views.app, use_reloader=True, use_debugger=True)
"""


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, str, Path]]:
    root = tmp_path_factory.mktemp("browser-app")
    (root / "views.py").write_text(VIEWS.format(driver=DRIVER))
    (root / "serve.py").write_text(SCRIPT)
    with running(["serve.py"], cwd=root) as (proc, url):
        yield proc, url, root


def test_debugger_page_renders_with_escaped_locals(
    dev_server: tuple[Proc, str, Path], tmp_path: Path
) -> None:
    _, url, _ = dev_server
    dom = chromium("--dump-dom", f"{url}/boom")
    assert "<title>ValueError: boom:" in dom
    assert "Traceback" in dom and "views.py" in dom and "in _run" not in dom
    assert 'raise ValueError("boom: " + hostile)' in dom  # source context
    assert "<th>secret_value</th><td>21</td>" in dom  # locals
    # the hostile local and message stayed text: no injected element ran or exists
    assert "&lt;script&gt;document.title='owned'&lt;/script&gt;" in dom
    assert "owned</title>" not in dom and "<img src" not in dom
    assert dom.count("<script") == 1  # only the page's own (nonce'd) script

    shot = tmp_path / "debugger.png"
    chromium("--window-size=1200,900", f"--screenshot={shot}", f"{url}/boom")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_console_unlocks_with_the_pin_and_evaluates_in_the_frame(dev_server: tuple[Proc, str, Path]) -> None:
    _, url, _ = dev_server
    dom = chromium("--virtual-time-budget=15000", "--dump-dom", f"{url}/driver")
    assert '<div id="result">CONSOLE:&gt;&gt;&gt; secret_value * 2\n42\n</div>' in dom


def test_reload_picks_up_an_edit(dev_server: tuple[Proc, str, Path]) -> None:
    _, url, root = dev_server
    before = chromium("--dump-dom", f"{url}/")
    assert '<p id="version">browser v1</p>' in before
    views = root / "views.py"
    views.write_text(views.read_text().replace("browser v1", "browser v2, edited"))
    eventually(lambda: "v2, edited" in request(url).text, timeout=25, what="the reload")
    after = chromium("--dump-dom", f"{url}/")
    assert '<p id="version">browser v2, edited</p>' in after
