"""Client-side sessions: a dict signed into a cookie.

Strategy: the session is a dict that notes when it is read (``accessed``) and written (``modified``).
It is serialized as tagged JSON (:mod:`.json_tag`: tuples, bytes, Markup, UUIDs and datetimes come
back as they went in; never pickle: a leaked key must not mean remote code execution) and signed and
timestamped with itsdangerous's :class:`~itsdangerous.URLSafeTimedSerializer` under ``SECRET_KEY``; keys
in ``SECRET_KEY_FALLBACKS`` still verify older cookies, so a key can be rotated without logging everyone
out. Reading a cookie never raises: a tampered, expired, truncated or otherwise unreadable cookie simply
yields a new, empty session. Writing happens only when the session changed (or, for a permanent session,
to slide its expiry forward when SESSION_REFRESH_EACH_REQUEST is on); an emptied session deletes the
cookie. The request context opens the session lazily, so requests that never touch it pay nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from itsdangerous import BadData, URLSafeTimedSerializer

from .config import lifetime_seconds
from .json_tag import TaggedJSONSerializer

if TYPE_CHECKING:
    from sockweb.web.request import Request as _Request
    from sockweb.web.response import Response as _Response

    from .app import App


def _mutator(name: str) -> Callable[..., Any]:
    method = getattr(dict, name)

    def mutate(self: SecureCookieSession, *args: Any, **kwargs: Any) -> Any:
        self.modified = True
        self.accessed = True
        return method(self, *args, **kwargs)

    mutate.__name__ = name
    mutate.__doc__ = method.__doc__
    return mutate


class SecureCookieSession(dict[str, Any]):
    """The session dict. ``modified`` is set by every write through the dict API; set it yourself after
    changing a mutable value in place (``session["cart"].append(x); session.modified = True``).
    """

    #: the session came from no (valid) cookie
    new = False

    def __init__(self, initial: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__(initial or ())
        self.modified = False
        self.accessed = False

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return super().__contains__(key)

    __setitem__ = _mutator("__setitem__")
    __delitem__ = _mutator("__delitem__")
    clear = _mutator("clear")
    pop = _mutator("pop")
    popitem = _mutator("popitem")
    setdefault = _mutator("setdefault")
    update = _mutator("update")

    @property
    def permanent(self) -> bool:
        """A permanent session's cookie lasts PERMANENT_SESSION_LIFETIME; others end with the browser."""
        return bool(super().get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)


class NullSession(SecureCookieSession):
    """Stands in when no SECRET_KEY is set: reading works (it is empty), writing explains the problem."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "The session is unavailable because no secret key was set. Set app.secret_key (or the "
            "SECRET_KEY config value) to a long random string."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _fail


#: the serializer the default session interface signs (shared: it holds no per-app state)
session_json_serializer = TaggedJSONSerializer()


class SessionInterface:
    """How an App opens and saves sessions. Subclass and set ``app.session_interface`` to replace it."""

    session_class: type[SecureCookieSession] = SecureCookieSession
    null_session_class: type[SecureCookieSession] = NullSession

    def make_null_session(self, app: App) -> SecureCookieSession:
        return self.null_session_class()

    def is_null_session(self, session: object) -> bool:
        return isinstance(session, self.null_session_class)

    def open_session(self, app: App, request: _Request) -> SecureCookieSession | None:
        raise NotImplementedError

    def save_session(self, app: App, session: SecureCookieSession, response: _Response) -> None:
        raise NotImplementedError

    # -- cookie settings, read from the app's config

    def get_cookie_name(self, app: App) -> str:
        return str(app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: App) -> str | None:
        domain = app.config["SESSION_COOKIE_DOMAIN"]
        return str(domain) if domain else None

    def get_cookie_path(self, app: App) -> str:
        return str(app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"] or "/")

    def get_cookie_httponly(self, app: App) -> bool:
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: App) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: App) -> str | None:
        value = app.config["SESSION_COOKIE_SAMESITE"]
        return str(value) if value else None

    def get_expiration_time(self, app: App, session: SecureCookieSession) -> datetime | None:
        if not session.permanent:
            return None
        seconds = lifetime_seconds(app.config["PERMANENT_SESSION_LIFETIME"])
        return datetime.now(timezone.utc) + timedelta(seconds=seconds)

    def should_set_cookie(self, app: App, session: SecureCookieSession) -> bool:
        return session.modified or (session.permanent and bool(app.config["SESSION_REFRESH_EACH_REQUEST"]))


class SecureCookieSessionInterface(SessionInterface):
    """The default: the whole session, signed (HMAC-SHA256) and timestamped, in one cookie."""

    salt = "sockweb-cookie-session"
    digest_method = staticmethod(hashlib.sha256)
    key_derivation = "hmac"
    serializer = session_json_serializer

    def get_signing_serializer(self, app: App) -> URLSafeTimedSerializer | None:
        secret = app.config.get("SECRET_KEY")
        if not secret:
            return None
        # itsdangerous signs with the last key and verifies with every key, newest first.
        keys = [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), secret]
        return URLSafeTimedSerializer(
            keys,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def open_session(self, app: App, request: _Request) -> SecureCookieSession | None:
        serializer = self._serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self._fresh()
        max_age = lifetime_seconds(app.config["PERMANENT_SESSION_LIFETIME"])
        try:
            data = serializer.loads(value, max_age=max_age)
        except (BadData, ValueError, TypeError, UnicodeError):
            # Tampered, expired, signed with an unknown key, not base64 or not our JSON: start over.
            return self._fresh()
        if not isinstance(data, dict):
            return self._fresh()
        return self.session_class(data)

    def _fresh(self) -> SecureCookieSession:
        session = self.session_class()
        session.new = True
        return session

    def _serializer(self, app: App) -> URLSafeTimedSerializer | None:
        # Cache per app and per key set: building the serializer derives keys, which is not free.
        keys = (app.config.get("SECRET_KEY"), tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("sockweb.session_serializer")
        if cached is not None and cached[0] == keys:
            result: URLSafeTimedSerializer | None = cached[1]
            return result
        serializer = self.get_signing_serializer(app)
        app.extensions["sockweb.session_serializer"] = (keys, serializer)
        return serializer

    def save_session(self, app: App, session: SecureCookieSession, response: _Response) -> None:
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        samesite = self.get_cookie_samesite(app)
        httponly = self.get_cookie_httponly(app)
        if session.accessed:
            _vary_on_cookie(response)
        if not session:
            if session.modified:  # emptied during this request: remove the cookie
                response.delete_cookie(
                    name, domain=domain, path=path, secure=secure, samesite=samesite, httponly=httponly
                )
            return
        if not self.should_set_cookie(app, session):
            return
        serializer = self._serializer(app)
        if serializer is None:
            return
        value = serializer.dumps(dict(session))
        response.set_cookie(
            name,
            value,
            expires=self.get_expiration_time(app, session),
            httponly=httponly,
            domain=domain,
            path=path,
            secure=secure,
            samesite=samesite,
        )
        _vary_on_cookie(response)


def _vary_on_cookie(response: _Response) -> None:
    """Add ``Cookie`` to the response's one Vary header (RFC 9110 §12.5.5: a list of field names; a
    shared cache must not give this response to a client with another session)."""
    names = [name.strip() for value in response.headers.getlist("Vary") for name in value.split(",")]
    names = [name for name in names if name]
    if any(name == "*" or name.lower() == "cookie" for name in names):
        return
    response.headers.set("Vary", ", ".join([*names, "Cookie"]))
