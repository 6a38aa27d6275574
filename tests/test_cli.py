from __future__ import annotations

import os
import platform
import subprocess
import sys

from sockweb import __version__
from sockweb.cli import COMMANDS, main
from sockweb.http import describe_parser
from sockweb.server.wsgi import describe_environ


def test_version_names_the_interpreter_and_the_event_loop(capsys) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    assert out.startswith(f"sockweb {__version__}, {python} on {platform.system()}, event loop: ")
    try:
        import uvloop
    except ImportError:
        assert (
            "event loop: asyncio (the standard library's; uvloop is not installed: "
            "pip install uvloop for the faster loop), parser: "
        ) in out
    else:
        assert f"event loop: uvloop {uvloop.__version__}, parser: " in out


def test_version_says_when_the_fast_loop_is_missing(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert main(["-V"]) == 0
    assert (
        "event loop: asyncio (the standard library's; uvloop is not installed: pip install uvloop for the faster loop), "
        in capsys.readouterr().out
    )


def test_version_names_the_parser_path(capsys) -> None:
    assert main(["--version"]) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith(f", parser: {describe_parser()}, environ: {describe_environ()}")
    )
    forced = subprocess.run(
        [sys.executable, "-m", "sockweb", "--version"],
        env={**os.environ, "SOCKWEB_PURE_PYTHON": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert forced.stdout.strip().endswith(
        ", parser: pure Python (SOCKWEB_PURE_PYTHON is set), environ: pure Python (SOCKWEB_PURE_PYTHON is set)"
    )


def test_unknown_command_is_a_clear_error(capsys) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_help_lists_every_command(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_python_dash_m() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sockweb", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith(f"sockweb {__version__}, ")


def test_every_command_module_has_main() -> None:
    import importlib

    for module, _ in COMMANDS.values():
        assert callable(importlib.import_module(module).main)


def test_serve_with_reload_or_debug_goes_to_the_dev_server() -> None:
    from sockweb.cli import _wants_dev_server

    assert _wants_dev_server(["--reload", "app:app"])
    assert _wants_dev_server(["app:app", "--debug"])
    assert not _wants_dev_server(["app:app", "--workers", "2"])
    assert not _wants_dev_server(["app:app", "--", "--reload"])


def test_top_level_package_re_exports_the_framework_lazily() -> None:
    code = (
        "import sys, sockweb; assert 'sockweb.framework' not in sys.modules; "
        "import sockweb.framework as f; "
        "assert all(getattr(sockweb, n) is getattr(f, n) for n in f.__all__); "
        "assert sorted(f.__all__) == sorted(n for n in sockweb.__all__ if n != '__version__')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
