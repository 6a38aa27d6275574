"""The browser workload of the benchmarks (bench/browser.lua, bench/browser_heads.py) is what it claims.

Its heads never repeat, so the head memo never serves one (the workload measures a parse per request);
they have the size and the 11 fields of a browser's request; and the wrk script and its Python twin
produce the same bytes, so what the parser benchmark and these tests see is what wrk sends.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from sockweb.http import NEED_DATA, EndOfMessage, HeadMemo, Request, RequestParser

BENCH = Path(__file__).resolve().parents[2] / "bench"
HOST = "127.0.0.1:8000"
COUNT = 10_000


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("browser_heads", BENCH / "browser_heads.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


browser_heads = _load()


def _parse_all(parser: RequestParser, data: bytes) -> list[Request]:
    parser.feed(data)
    requests = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return requests
        if isinstance(event, Request):
            requests.append(event)
        else:
            assert isinstance(event, EndOfMessage)


def test_heads_are_browser_sized_and_never_repeat() -> None:
    heads = [browser_heads.head(n, HOST) for n in range(1, COUNT + 1)]
    assert len(set(heads)) == COUNT
    sizes = sorted(len(h) for h in heads)
    assert sizes[0] > 500 and sizes[-1] < 800 and 580 < sum(sizes) / COUNT < 660
    assert {h.count(b"\r\n") - 2 for h in heads} == {11}
    # each wrk thread counts from its own billion: its heads differ from the first thread's too
    assert not set(heads) & {browser_heads.head(10**9 + n, HOST) for n in range(1, 1001)}


def test_the_head_memo_never_serves_a_browser_head() -> None:
    memo = HeadMemo()
    parser = RequestParser(memo=memo)
    # The control: the same parser and memo do serve a head sent twice in a row (kept on the second,
    # served on the third), so `repeated` staying False below means the heads differ, not a memo off.
    control = browser_heads.head(1, HOST)
    flags = []
    for _ in range(3):
        assert len(_parse_all(parser, control)) == 1
        flags.append(parser.repeated)
    assert flags == [False, False, True]
    memo.requests.clear()
    served = []
    for n in range(2, COUNT + 2, 16):  # one at a time and in pipelined batches of 15
        requests = _parse_all(parser, browser_heads.head(n, HOST))
        served.append(parser.repeated)
        requests += _parse_all(parser, b"".join(browser_heads.head(n + i, HOST) for i in range(1, 16)))
        served.append(parser.repeated)
        assert len(requests) == 16 and all(len(r.headers) == 11 for r in requests)
    assert not any(served)
    assert memo.requests == {}


LUAJIT = shutil.which("luajit")


def test_lua_script_sends_the_python_heads(tmp_path: Path) -> None:
    if LUAJIT is None:
        if os.environ.get("CI"):
            pytest.fail("luajit is required under CI (bench/browser.lua against bench/browser_heads.py)")
        pytest.skip("luajit is not installed (bench/browser.lua against bench/browser_heads.py)")
    # wrk's side, stubbed: the Host it derives from the URL, a thread id its setup() would have set.
    driver = tmp_path / "driver.lua"
    driver.write_text(
        'wrk = {headers = {Host = "[::1]:8080"}}\n'
        "thread_id = 2\n"
        f"dofile({str(BENCH / 'browser.lua')!r})\n"
        "for i = 1, 3000 do io.write(request()) end\n"
    )
    out = subprocess.run([LUAJIT, str(driver)], capture_output=True, timeout=60, check=True).stdout
    expected = b"".join(browser_heads.head(2 * 10**9 + n, "[::1]:8080") for n in range(1, 3001))
    assert out == expected
