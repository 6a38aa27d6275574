"""What the reloading dev server shows when the application cannot be loaded (in-process, no server)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sockweb.web.dev._child import _failure_files, _load, format_user_traceback


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], str]]:
    """write(name, source) -> a unique module name importable from tmp_path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> str:
        unique = f"{name}_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{unique}.py").write_text(source)
        written.append(unique)
        return unique

    yield write
    for name in written:
        sys.modules.pop(name, None)


def load_failure(spec: str) -> BaseException:
    with pytest.raises(Exception) as info:
        _load(spec, factory=spec.endswith("()"))
    return info.value


def test_a_failing_factory_shows_the_users_traceback(modules, tmp_path: Path) -> None:
    helper = modules("helper", 'def build():\n    raise RuntimeError("DATABASE_URL is not set")\n')
    factory = modules("factory", f"import {helper}\ndef create():\n    return {helper}.build()\n")
    exc = load_failure(f"{factory}:create()")
    text = format_user_traceback(exc)
    first, _, rest = text.partition("\n")
    assert first.startswith(f"factory '{factory}:create()' failed: RuntimeError")
    assert f'{helper}.py", line 2, in build' in rest and f'{factory}.py", line 3, in create' in rest
    assert rest.rstrip().endswith("RuntimeError: DATABASE_URL is not set")
    assert "loader.py" not in text and "_child.py" not in text  # the machinery is left out
    # Both files of the failure are watched: fixing either one reloads.
    assert {str(tmp_path / f"{helper}.py"), str(tmp_path / f"{factory}.py")} <= _failure_files(exc)


def test_a_missing_name_is_one_line(modules) -> None:
    module = modules("app", "application = None\n")
    assert format_user_traceback(load_failure(f"{module}:app")) == (
        f"module '{module}' has no attribute 'app'\n"
    )


def test_a_syntax_error_shows_the_line(modules, tmp_path: Path) -> None:
    module = modules("broken", "def app(environ, start_response)\n    pass\n")
    exc = load_failure(f"{module}:app")
    text = format_user_traceback(exc)
    assert f'{module}.py", line 1' in text and "SyntaxError" in text
    assert "importlib" not in text
    assert str(tmp_path / f"{module}.py") in _failure_files(exc)
