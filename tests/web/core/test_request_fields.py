"""Request header fields (CORS, forwarding, caching), storage classes, body access rules and the repr."""

from __future__ import annotations

from typing import Any

import pytest

from sockweb.web.datastructures import CombinedMultiDict, ImmutableList, ImmutableMultiDict
from sockweb.web.request import Request
from sockweb.web.testing import create_environ
from sockweb.web.user_agent import UserAgent


def make(*args: Any, **kwargs: Any) -> Request:
    return Request(create_environ(*args, **kwargs))


def test_cors_request_fields() -> None:
    request = make(
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "X-Token, Content-Type",
        }
    )
    assert request.origin == "https://app.example"
    assert request.access_control_request_method == "DELETE"
    assert request.access_control_request_headers.as_set() == {"x-token", "content-type"}
    assert make().origin is None


def test_access_route() -> None:
    forwarded = make(
        headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.2,"}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert forwarded.access_route == ["203.0.113.9", "10.0.0.2"]
    assert forwarded.remote_addr == "10.0.0.1"
    assert isinstance(forwarded.access_route, ImmutableList)
    direct = make(environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert list(direct.access_route) == ["10.0.0.1"]


def test_other_header_fields() -> None:
    request = make(headers={"Max-Forwards": "3", "Pragma": "no-cache", "Content-MD5": "abc="})
    assert request.max_forwards == 3
    assert "no-cache" in request.pragma
    assert request.content_md5 == "abc="
    assert make(headers={"Max-Forwards": "many"}).max_forwards is None


def test_user_agent_is_an_object_and_still_a_string() -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64) Example/1.0"
    request = make(headers={"User-Agent": agent})
    assert isinstance(request.user_agent, UserAgent)
    assert request.user_agent == agent and str(request.user_agent) == agent
    assert request.user_agent.string == agent and request.user_agent.to_header() == agent
    assert make().user_agent == ""


def test_storage_classes() -> None:
    class Plain(Request):
        parameter_storage_class = dict
        dict_storage_class = dict
        list_storage_class = tuple

    request = Plain(create_environ("/?a=1", headers={"Cookie": "c=2"}))
    assert type(request.args) is dict and request.args == {"a": "1"}
    assert type(request.cookies) is dict and request.cookies == {"c": "2"}
    assert type(request.access_route) is tuple
    assert type(request.values) is CombinedMultiDict and request.values["a"] == "1"
    default = make("/?a=1")
    assert type(default.args) is ImmutableMultiDict


def test_values_is_args_then_form() -> None:
    request = make("/?a=1", method="POST", data={"a": "2", "b": "3"})
    assert isinstance(request.values, CombinedMultiDict)
    assert request.values["a"] == "1" and request.values.getlist("a") == ["1", "2"]
    assert request.values["b"] == "3"


def test_shallow_request_refuses_every_body_access() -> None:
    request = Request(create_environ("/?q=1", method="POST", data={"a": "1"}), shallow=True)
    assert request.args["q"] == "1"
    for attribute in ("stream", "data", "form", "files"):
        with pytest.raises(RuntimeError):
            getattr(request, attribute)


def test_data_parses_a_form_body_first() -> None:
    request = make(method="POST", data=b"a=1", content_type="application/x-www-form-urlencoded")
    assert request.data == b""
    assert request.form["a"] == "1"
    other = make(method="POST", data=b"a=1", content_type="text/plain")
    assert other.data == b"a=1"


def test_repr_shows_the_decoded_path() -> None:
    assert repr(make("/caf%C3%A9")) == "<Request 'http://localhost/café' [GET]>"
