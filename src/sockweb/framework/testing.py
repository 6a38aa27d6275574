"""The test client of the framework: the toolkit's Client plus session access.

Strategy: subclass the toolkit's in-process :class:`~sockweb.web.testing.Client`; the only addition is
:meth:`AppClient.session_transaction`, which opens the session the way a request would (from the
client's cookie jar), hands it to the test, and stores it back into the jar as the App would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner, Result

from sockweb.web.testing import Client

if TYPE_CHECKING:
    from .app import App
    from .sessions import SecureCookieSession


class AppClient(Client):
    """``app.test_client()``: requests in-process, cookies kept, and ``session_transaction()``."""

    __test__ = False

    def __init__(self, app: App, use_cookies: bool = True) -> None:
        super().__init__(app, use_cookies=use_cookies)
        self.app = app

    @contextmanager
    def session_transaction(self, path: str = "/", **kwargs: Any) -> Iterator[SecureCookieSession]:
        """``with client.session_transaction() as sess: sess["user"] = 1`` before a request."""
        if self.cookie_jar is None:
            raise TypeError("session_transaction() needs a client with cookies enabled")
        app = self.app
        name = app.session_interface.get_cookie_name(app)
        with app.test_request_context(path, **kwargs) as ctx:
            value = self.get_cookie(name)
            if value is not None:
                ctx.request.environ["HTTP_COOKIE"] = f"{name}={value}"
            session = app.open_session(ctx.request)
            if app.session_interface.is_null_session(session):
                raise RuntimeError("the session is unavailable: set a SECRET_KEY")
            yield session
            response = app.response_class()
            app.session_interface.save_session(app, session, response)
        for header in response.headers.getlist("Set-Cookie"):
            cookie_name, _, rest = header.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or "expires=Thu, 01 Jan 1970" in header.lower():
                self.delete_cookie(cookie_name)
            else:
                self.set_cookie(cookie_name, cookie_value)


class AppCliRunner(CliRunner):
    """``app.test_cli_runner()``: invokes the App's commands (``app.cli``) with the App already loaded."""

    def __init__(self, app: App, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(self, cli: Any = None, args: Any = None, **kwargs: Any) -> Result:  # type: ignore[override]
        """Run ``cli`` (default: the App's group) with ``args``; the App is the one loaded."""
        from .cli import ScriptInfo

        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, **kwargs)
