"""sockweb.flask_patch: flask/werkzeug names resolve to sockweb, in a fresh interpreter each time.

Each check runs in a subprocess because the patch changes the import system of the process that imports
it, and because the case to get right is an environment where the real Flask is installed too.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60
    )


def ok(code: str) -> str:
    proc = run(code)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_flask_and_werkzeug_names_are_sockweb_objects() -> None:
    ok("""
        import sys, sockweb.flask_patch
        import flask, werkzeug
        from flask import Flask, request, Blueprint
        from flask.testing import FlaskClient
        from werkzeug.datastructures import MultiDict, Headers
        from werkzeug.exceptions import NotFound
        from werkzeug.routing import Rule
        import sockweb.framework as fw, sockweb.web.datastructures as ds, sockweb.web.exceptions as ex
        from sockweb.framework.testing import AppClient
        assert Flask is fw.App and request is fw.request and Blueprint is fw.Blueprint
        assert FlaskClient is AppClient
        assert MultiDict is ds.MultiDict and Headers is ds.Headers and NotFound is ex.NotFound
        assert flask.__version__ == werkzeug.__version__ == "3.1.0"
        assert not any(getattr(m, "__file__", None) and "site-packages" in m.__file__
                       for n, m in list(sys.modules.items()) if n.split(".")[0] in ("flask", "werkzeug"))
    """)


def test_a_mapped_real_module_keeps_its_own_spec_and_takes_monkeypatches() -> None:
    out = ok("""
        import sockweb.flask_patch
        import werkzeug.serving, werkzeug.exceptions
        import sockweb.web.dev as dev
        assert werkzeug.serving is dev and dev.__spec__.name == "sockweb.web.dev"
        assert werkzeug.exceptions.__spec__.name == "sockweb.web.exceptions"
        werkzeug.serving.run_simple = lambda *a, **k: print("patched", a[:2])
        from flask import Flask
        Flask(__name__).run(port=5001)
    """)
    assert out.strip() == "patched ('127.0.0.1', 5001)"


def test_missing_names_and_modules_fail_as_imports_do_and_never_reach_the_real_package() -> None:
    out = ok("""
        import sys, sockweb.flask_patch
        import flask
        try:
            from flask import NoSuchThing
        except ImportError as exc:
            print("name:", exc)
        try:
            import werkzeug.no_such_module
        except ModuleNotFoundError as exc:
            print("module:", exc.name)
        assert hasattr(flask, "__version__") and not hasattr(flask, "NoSuchThing")
        print(sorted(n for n in sys.modules if n.split(".")[0] == "werkzeug"))
    """)
    assert "name: cannot import name 'NoSuchThing'" in out
    assert "module: werkzeug.no_such_module" in out
    assert "['werkzeug']" in out  # the failed submodule left nothing behind


def test_request_ctx_proxy_works_as_a_context_manager() -> None:
    out = ok("""
        import sockweb.flask_patch
        from flask import Flask, request
        from flask.globals import request_ctx, app_ctx
        app = Flask(__name__)
        with app.test_request_context("/x?a=1"):
            with request_ctx:
                print(request_ctx.request.path, request.args["a"], app_ctx.app is app)
    """)
    assert out.split() == ["/x", "1", "True"]


@pytest.mark.skipif(importlib.util.find_spec("flask") is None, reason="needs the real Flask installed")
def test_refuses_when_the_real_flask_is_already_imported() -> None:
    proc = run("import flask\nimport sockweb.flask_patch\n")
    assert proc.returncode == 1
    assert "sockweb.flask_patch must be imported before flask and werkzeug" in proc.stderr
    assert "flask" in proc.stderr.splitlines()[-1]


@pytest.mark.skipif(importlib.util.find_spec("flask") is None, reason="needs the real Flask installed")
def test_without_the_patch_the_real_flask_is_untouched() -> None:
    out = ok("import sockweb, sockweb.framework, flask\nprint(flask.Flask.__module__)\n")
    assert out.strip() == "flask.app"


def test_names_werkzeug_re_exports_from_another_module_resolve() -> None:
    # werkzeug.routing re-exports RequestRedirect from its exceptions, and werkzeug.http has
    # parse_cache_control_header (sockweb's own, under that name): both are imported at the top of
    # flask's own tests.
    ok("""
        import sockweb.flask_patch
        from werkzeug.routing import RequestRedirect, Rule
        from werkzeug.routing.exceptions import BuildError
        from werkzeug.http import parse_cache_control_header
        import sockweb.web.exceptions as ex, sockweb.web.routing as routing, sockweb.web.httputil as hu
        assert RequestRedirect is ex.RequestRedirect and Rule is routing.Rule and BuildError is routing.BuildError
        from sockweb.web.httputil.cache_control import parse_cache_control_header as ours
        assert parse_cache_control_header is ours
        assert parse_cache_control_header("max-age=60").max_age == 60
    """)
