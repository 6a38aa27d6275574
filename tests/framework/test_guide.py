"""docs/guide/ cannot drift from the code: every example on every page runs, and shown output is checked.

The convention is written at the top of docs/guide/README.md; in short, per page and in page order:

* a ```` ```python ```` block is executed; all blocks of one page share one namespace, so a page reads
  (and runs) as one program;
* a ```` ```pycon ```` block is a doctest in that same namespace: each ``>>>`` line runs and what the page
  shows below it must be what it prints;
* a block whose info string carries ``file=PATH`` (```` ```html file=templates/hello.html ````) is
  written to PATH, relative to the page's own temporary working folder, before the blocks after it run;
* any other block (``console``, ``text``, ``toml``...) is shown only.

Each page runs in its own interpreter and in a fresh temporary folder as the current directory, so ``App(__name__)`` finds its
``templates/`` and ``static/`` folders there. Relative links must point at files that exist.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
RUN = {"python", "pycon"}
# Languages that hold Python but would not be run: refused, so no example escapes the test by its label.
UNRUN_PYTHON = {"py", "python3", "py3", "pyi", "ipython"}


@dataclass
class Block:
    lang: str
    file: str | None
    source: str
    line: int


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a page, with their language, ``file=`` target and first line number."""
    found = []
    for match in FENCE.finditer(text):
        words = match.group(1).split()
        lang = words[0] if words else ""
        target = next((word[5:] for word in words[1:] if word.startswith("file=")), None)
        line = text.count("\n", 0, match.start(2)) + 1
        found.append(Block(lang, target, match.group(2), line))
    return found


class PageFailure(AssertionError):
    """An example of a page raised, or printed something else than the page shows."""


def run_page(text: str, name: str, folder: Path) -> int:
    """Run the examples of one page (``folder`` is the current directory); returns how many ran."""
    namespace: dict[str, object] = {"__name__": f"guide_{Path(name).stem.replace('-', '_')}"}
    ran = 0
    for block in blocks(text):
        where = f"{name}:{block.line}"
        if block.lang in UNRUN_PYTHON:
            raise PageFailure(f"{where}: label Python examples 'python' or 'pycon' so they run")
        if block.file is not None:
            target = folder / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.source, encoding="utf-8")
            continue
        if block.lang == "python":
            try:
                exec(compile(block.source, where, "exec"), namespace)
            except Exception as e:
                raise PageFailure(f"{where}: the example raised {type(e).__name__}: {e}") from e
            ran += 1
        elif block.lang == "pycon":
            test = doctest.DocTestParser().get_doctest(block.source, namespace, where, name, block.line - 1)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            report: list[str] = []
            runner.run(test, out=report.append, clear_globs=False)
            namespace.update(test.globs)
            if runner.failures:
                raise PageFailure("".join(report))
            ran += 1
    return ran


def main(argv: list[str]) -> int:
    """``python test_guide.py PAGE``: run one page's examples in the current folder (see below)."""
    page = Path(argv[0])
    try:
        ran = run_page(page.read_text(encoding="utf-8"), f"docs/guide/{page.name}", Path.cwd())
    except PageFailure as e:
        print(e, file=sys.stderr)
        return 1
    print(ran)
    return 0


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    # Each page runs in a fresh interpreter: a page may install sockweb.flask_patch, set environment
    # variables or connect signals, and none of that may leak into the other pages or the test session.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-W", "error", __file__, str(page)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if page.name != "README.md":
        assert int(done.stdout.split()[-1]), f"{page.name} has no example that runs"


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    missing = []
    for target in LINK.findall(text):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{page.name} links to files that are not there: {missing}"


def test_guide_has_the_pages_the_readme_lists() -> None:
    readme = (GUIDE / "README.md").read_text(encoding="utf-8")
    listed = {Path(target).name for target in LINK.findall(readme) if target.endswith(".md")}
    on_disk = {page.name for page in PAGES} - {"README.md"}
    assert on_disk <= listed, f"pages missing from the guide's table of contents: {on_disk - listed}"


# The runner itself must be able to fail: a page whose shown output is wrong, or whose code raises.

WRONG_OUTPUT = """
```python
from sockweb import App

app = App(__name__)

@app.route("/")
def index():
    return "right"
```

```pycon
>>> app.test_client().get("/").text
'wrong'
```
"""

RAISES = """
```python
x = 1
```

```python
raise ValueError("boom")
```
"""

FILE_THEN_CODE = """
```text file=data/greeting.txt
hello
```

```pycon
>>> import pathlib
>>> pathlib.Path("data/greeting.txt").read_text()
'hello\\n'
```
"""


def test_runner_fails_on_wrong_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PageFailure, match=r"(?s)Expected:\s+'wrong'\s+Got:\s+'right'"):
        run_page(WRONG_OUTPUT, "wrong.md", tmp_path)
    assert run_page(WRONG_OUTPUT.replace("'wrong'", "'right'"), "right.md", tmp_path) == 2


def test_runner_fails_when_an_example_raises(tmp_path: Path) -> None:
    with pytest.raises(PageFailure, match=r"raises\.md:7: the example raised ValueError: boom"):
        run_page(RAISES, "raises.md", tmp_path)


def test_runner_refuses_python_it_would_not_run(tmp_path: Path) -> None:
    with pytest.raises(PageFailure, match="so they run"):
        run_page("```py\nprint(1)\n```\n", "py.md", tmp_path)


def test_runner_writes_file_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_page(FILE_THEN_CODE, "files.md", tmp_path) == 1
    assert (tmp_path / "data" / "greeting.txt").read_text() == "hello\n"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
