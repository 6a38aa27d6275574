"""Shortly as users get it: ``sockweb demo`` in a subprocess on the real server, over HTTP, and in
headless Chromium driven through chromedriver's W3C WebDriver HTTP API (plain urllib, no selenium)."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 30.0
# Proxies from the environment must not see requests to 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


RAW_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, data: bytes | None = None, follow: bool = True) -> tuple[int, dict[str, str], str]:
    opener = OPENER if follow else RAW_OPENER
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=15) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode()


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    url: str

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("sockweb demo did not stop on SIGTERM")
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        return self.proc.returncode


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    demos: list[Demo] = []

    def start(*args: str) -> Demo:
        log = (tmp_path / f"demo{len(demos)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "sockweb", "demo", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")},
        )
        log.close()
        assert proc.stdout is not None
        demo = Demo(proc, "")
        demos.append(demo)
        line = _read_line(proc, START_TIMEOUT)
        match = re.match(r"Shortly running on (http://\S+)", line)
        assert match, f"unexpected first line {line!r}; log: {(tmp_path / 'demo0.log').read_text()}"
        demo.url = match.group(1)
        _wait_until_serving(demo.url)
        return demo

    yield start
    for demo in demos:
        assert demo.stop() == 0


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not result:
        proc.kill()
        pytest.fail("sockweb demo printed nothing in time")
    return result[0].decode()


def _wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            fetch(url + "/static/style.css")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def clicks(page: str) -> int:
    match = re.search(r'id="clicks"[^>]*>(\d+)<', page)
    assert match, page
    return int(match.group(1))


def test_demo_serves_shortly_and_creates_its_database(start_demo, tmp_path: Path) -> None:
    db = tmp_path / "data" / "links.db"
    demo = start_demo("--port", "0", "--db", str(db))
    assert db.is_file()
    status, headers, _ = fetch(demo.url + "/", data=b"url=https%3A%2F%2Fexample.com%2Fserved", follow=False)
    assert status == 303
    details = headers["Location"]
    short_id = details.strip("/+").rsplit("/", 1)[-1]
    for expected in (1, 2):
        status, headers, _ = fetch(f"{demo.url}/{short_id}", follow=False)
        assert (status, headers["Location"]) == (302, "https://example.com/served")
        assert clicks(fetch(f"{demo.url}/{short_id}+")[2]) == expected
    status, _, page = fetch(demo.url + "/no-such-link")
    assert status == 404 and "404: no such link" in page


def test_demo_default_database_is_in_the_user_data_folder(start_demo, tmp_path: Path) -> None:
    start_demo("--port", "0")
    assert (tmp_path / "xdg" / "sockweb" / "shortly.db").is_file()


@pytest.mark.slow
def test_demo_with_several_workers_shares_one_database(start_demo, tmp_path: Path) -> None:
    # port 0: the workers serve the very socket the command bound and reported
    demo = start_demo("--port", "0", "--db", str(tmp_path / "links.db"), "--workers", "2")
    _, headers, _ = fetch(demo.url + "/", data=b"url=http%3A%2F%2Fexample.com%2F", follow=False)
    short_id = headers["Location"].strip("/+").rsplit("/", 1)[-1]
    for _ in range(10):
        assert fetch(f"{demo.url}/{short_id}", follow=False)[0] == 302
    assert clicks(fetch(f"{demo.url}/{short_id}+")[2]) == 10


@pytest.mark.redis
def test_demo_on_redis(start_demo, redis_url: str) -> None:
    demo = start_demo("--port", "0", "--redis", redis_url)
    _, headers, _ = fetch(demo.url + "/", data=b"url=https%3A%2F%2Fexample.com%2Fredis", follow=False)
    short_id = headers["Location"].strip("/+").rsplit("/", 1)[-1]
    assert fetch(f"{demo.url}/{short_id}", follow=False)[1]["Location"] == "https://example.com/redis"
    assert clicks(fetch(f"{demo.url}/{short_id}+")[2]) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--db", "/dev/null/shortly.db"], 1, "cannot open the database"),
        (["--port", "70000"], 2, "--port must be from 0 to 65535"),
        (["--db", "x.db", "--redis", "redis://localhost"], 2, "not allowed with argument"),
    ],
)
def test_demo_usage_and_storage_errors(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sockweb", "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_demo_reports_a_taken_port(workers: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "sockweb",
                "demo",
                "--port",
                str(port),
                "--workers",
                workers,
                "--db",
                str(tmp_path / "links.db"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stdout == ""  # never "running on" when it is not
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


# --- headless Chromium ---------------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--window-size=1100,900",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key


def _need(binary: str) -> str:
    path = shutil.which(binary) or (binary if os.path.isfile(binary) else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is required under CI")
        pytest.skip(f"{binary} is not installed")
    return path


class WebDriver:
    """The few W3C WebDriver commands the test needs, as JSON over HTTP."""

    def __init__(self, base: str, session: str) -> None:
        self.base = f"{base}/session/{session}"

    @staticmethod
    def call(method: str, url: str, body: object | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with OPENER.open(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            with exc:
                raise AssertionError(f"WebDriver {method} {url}: {exc.read().decode()[:500]}") from None

    def go(self, url: str) -> None:
        self.call("POST", f"{self.base}/url", {"url": url})

    @property
    def current_url(self) -> str:
        return str(self.call("GET", f"{self.base}/url"))

    def wait_for_url(self, pattern: str, timeout: float = 20.0) -> str:
        """The current URL once it matches ``pattern`` (a click's navigation may still be under way on a
        busy machine); fails with the last URL seen after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not re.fullmatch(pattern, url := self.current_url):
            if time.monotonic() > deadline:
                pytest.fail(f"the browser stayed at {url}, expected {pattern}")
            time.sleep(0.1)
        return url

    def find(self, css: str) -> str:
        return str(
            self.call("POST", f"{self.base}/element", {"using": "css selector", "value": css})[ELEMENT]
        )

    def type(self, css: str, text: str) -> None:
        self.call("POST", f"{self.base}/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self.call("POST", f"{self.base}/element/{self.find(css)}/click", {})

    def text(self, css: str) -> str:
        return str(self.call("GET", f"{self.base}/element/{self.find(css)}/text"))

    def wait_text(self, css: str, expected: str, timeout: float = 20.0) -> None:
        """Wait until the element ``css`` shows ``expected``: after a click, the next page may still be
        loading on a busy machine (no such element yet, or the old page's)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen = self.text(css)
            except AssertionError as exc:  # no such element (yet)
                seen = f"<{exc}>"
            if seen == expected:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{css} shows {seen!r}, expected {expected!r}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("GET", f"{self.base}/screenshot")))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium = _need("/usr/bin/chromium")
    chromedriver = _need("chromedriver")
    port = free_port()
    driver = subprocess.Popen(
        [chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if WebDriver.call("GET", f"{base}/status").get("ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chromedriver did not become ready")
            time.sleep(0.1)
        options = {"binary": chromium, "args": [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]}
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        session = WebDriver.call("POST", f"{base}/session", {"capabilities": capabilities})["sessionId"]
        try:
            yield WebDriver(base, session)
        finally:
            WebDriver.call("DELETE", f"{base}/session/{session}")
    finally:
        driver.terminate()
        try:
            driver.wait(15)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()


@pytest.fixture
def target_site() -> Iterator[str]:
    """A page for the short link to lead to, on 127.0.0.1 (the test must not need the internet)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Target</title><h1 id='arrived'>You have arrived</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/landing/page?from=shortly"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.browser
@pytest.mark.slow
def test_shorten_follow_and_count_in_chromium(browser, start_demo, target_site, tmp_path: Path) -> None:
    demo = start_demo("--port", "0", "--db", str(tmp_path / "links.db"))
    browser.go(demo.url + "/")
    browser.wait_text("h1", "Shorten a link")

    # A bad URL first: the page says what is wrong.
    browser.type("#url", "ftp://example.com/file")
    browser.click("button[type=submit]")
    browser.wait_text("#error", "Only http:// and https:// URLs can be shortened, not ftp:.")

    # Then a good one: the browser lands on the details page.
    browser.go(demo.url + "/")
    browser.type("#url", target_site)
    browser.click("button[type=submit]")
    details = browser.wait_for_url(re.escape(demo.url) + r"/[0-9A-Za-z]+\+")
    short_link = browser.text("#short-link")
    assert re.fullmatch(re.escape(demo.url) + r"/[0-9A-Za-z]+", short_link), short_link
    assert browser.text("#target") == target_site
    assert browser.text("#clicks") == "0"
    browser.screenshot(tmp_path / "details.png")

    # Following the short link (302) reaches the target; each visit is counted.
    for expected in ("1", "2"):
        browser.click("#short-link")
        browser.wait_for_url(re.escape(target_site))
        browser.wait_text("#arrived", "You have arrived")
        browser.go(details)
        browser.wait_text("#clicks", expected)

    browser.go(demo.url + "/")
    browser.wait_text("td.num", "2")
    browser.screenshot(tmp_path / "front.png")
    assert (tmp_path / "front.png").read_bytes().startswith(b"\x89PNG")
