"""Differential test: our router and werkzeug's agree on thousands of random requests over a REST map.

Known, deliberate differences are normalised away: our 405 lists OPTIONS in Allow (we answer OPTIONS
automatically), and a path starting with ``//`` is redirected to its merged form (werkzeug matches it
as if the slashes were one).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from sockweb.web import routing as ours
from sockweb.web.exceptions import HTTPException

wz = pytest.importorskip("werkzeug.routing")
wz_exceptions = pytest.importorskip("werkzeug.exceptions")

UUID = "12345678-1234-5678-1234-567812345678"


def specs() -> list[tuple[str, str, list[str]]]:
    rules: list[tuple[str, str, list[str]]] = [("/", "index", ["GET"])]
    for name in ("res0", "res1", "res2"):
        base = f"/api/v1/{name}"
        rules += [
            (base, f"{name}.list", ["GET"]),
            (base, f"{name}.create", ["POST"]),
            (f"{base}/<int:id>", f"{name}.get", ["GET"]),
            (f"{base}/<int:id>", f"{name}.update", ["PUT", "PATCH"]),
            (f"{base}/<int:id>/comments/<int:cid>", f"{name}.comment", ["GET"]),
            (f"{base}/by-key/<uuid:key>", f"{name}.by_key", ["GET"]),
            (f"{base}/<name>/x", f"{name}.named", ["GET"]),
        ]
    rules += [
        ("/pages/page-3", "page3", ["GET"]),
        ("/docs/<section>/<slug>", "doc", ["GET"]),
        ("/docs/intro/<slug>", "intro", ["GET", "POST"]),
        ("/static/<path:filename>", "static", ["GET"]),
        ("/u/<username>/", "profile", ["GET"]),
        ("/n/<float:x>", "float", ["GET"]),
        ("/a/<any(one, two):which>", "any", ["GET"]),
    ]
    return rules


PIECES = ["api", "v1", "res0", "res2", "42", "007", "-1", "1.5", "comments", "7", "by-key", UUID, "pages",
          "page-3", "docs", "intro", "static", "css", "u", "bob", "n", "a", "one", "x", ""]  # fmt: skip


def outcome(adapter: Any, path: str, method: str, errors: type[Exception]) -> Any:
    try:
        return adapter.match(path, method)
    except errors as exc:
        allowed = set(getattr(exc, "valid_methods", None) or ()) - {"OPTIONS"}
        return getattr(exc, "code", None), getattr(exc, "new_url", None), sorted(allowed)


def test_same_answers_as_werkzeug() -> None:
    table = specs()
    mine = ours.Map([ours.Rule(r, endpoint=e, methods=m) for r, e, m in table]).bind("example.com")
    theirs = wz.Map([wz.Rule(r, endpoint=e, methods=m) for r, e, m in table]).bind("example.com")
    rng = random.Random(5)
    checked = 0
    for _ in range(4000):
        path = "/" + "/".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
        if rng.random() < 0.2:
            path += "/"
        if path.startswith("//"):
            continue
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD"])
        expected = outcome(theirs, path, method, wz_exceptions.HTTPException)
        assert outcome(mine, path, method, HTTPException) == expected, (path, method)
        checked += 1
    assert checked > 3000


def test_same_urls_built_as_werkzeug() -> None:
    table = specs()
    mine = ours.Map([ours.Rule(r, endpoint=e, methods=m) for r, e, m in table]).bind("example.com", "/app")
    theirs = wz.Map([wz.Rule(r, endpoint=e, methods=m) for r, e, m in table]).bind("example.com", "/app")
    rng = random.Random(7)
    words = ["bob", "a b", "ü", "x&y", "semi;colon", "100%", "tilde~", "at@"]
    for _ in range(1000):
        _, endpoint, _ = rng.choice(table)
        values: dict[str, Any] = {
            "id": rng.randint(0, 10**6),
            "cid": rng.randint(0, 99),
            "key": UUID,
            "name": rng.choice(words),
            "section": rng.choice(words),
            "slug": rng.choice(words),
            "filename": rng.choice(words) + "/" + rng.choice(words),
            "username": rng.choice(words),
            "x": rng.choice([0.5, 12.25]),
            "which": rng.choice(["one", "two"]),
        }
        mine_url = mine.build(endpoint, values, append_unknown=False)
        theirs_url = theirs.build(endpoint, values, append_unknown=False)
        assert mine_url == theirs_url, (endpoint, values)
