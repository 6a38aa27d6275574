"""Routing by subdomain and host, WebSocket rules, rule factories, aliases, build order and BuildError."""

from __future__ import annotations

from typing import Any

import pytest

from sockweb.web.datastructures import MultiDict
from sockweb.web.exceptions import MethodNotAllowed, NotFound, RequestRedirect
from sockweb.web.routing import (
    BaseConverter,
    BuildError,
    EndpointPrefix,
    Map,
    Rule,
    RuleTemplate,
    Subdomain,
    Submount,
    WebsocketMismatch,
)


def environ(host: str, path: str = "/", **extra: str) -> dict[str, Any]:
    return {
        "HTTP_HOST": host,
        "SERVER_NAME": "ignored",
        "SERVER_PORT": "80",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        **extra,
    }


# ------------------------------------------------------------------------------------------ subdomains


def test_rules_match_their_own_subdomain_only() -> None:
    m = Map(
        [
            Rule("/", endpoint="home"),
            Rule("/", endpoint="blog", subdomain="blog"),
            Rule("/u", endpoint="user", subdomain="<user>"),
        ]
    )
    assert m.bind("shop.test").match("/") == ("home", {})
    assert m.bind("shop.test", subdomain="blog").match("/") == ("blog", {})
    assert m.bind("shop.test", subdomain="ann").match("/u") == ("user", {"user": "ann"})
    with pytest.raises(NotFound):
        m.bind("shop.test", subdomain="ann").match("/")
    with pytest.raises(NotFound):
        m.bind("shop.test").match("/u")  # the empty subdomain is no <user>


def test_a_map_of_one_subdomain_refuses_the_others() -> None:
    m = Map([Rule("/", endpoint="home")])
    with pytest.raises(NotFound):
        m.bind("shop.test", subdomain="other").match("/")
    www = Map([Rule("/", endpoint="home")], default_subdomain="www")
    assert www.bind("shop.test").match("/") == ("home", {})
    assert www.bind("shop.test").build("home") == "/"


def test_building_for_another_subdomain_is_external() -> None:
    m = Map([Rule("/", endpoint="home"), Rule("/p/<int:n>", endpoint="page", subdomain="<user>")])
    a = m.bind("shop.test", subdomain="ann")
    assert a.build("page", {"user": "ann", "n": 2}) == "/p/2"
    assert a.build("page", {"user": "bob", "n": 2}) == "http://bob.shop.test/p/2"
    assert a.build("home") == "http://shop.test/"


def test_bind_to_environ_takes_the_subdomain_from_the_host() -> None:
    m = Map([Rule("/", endpoint="home"), Rule("/", endpoint="api", subdomain="api")])
    assert m.bind_to_environ(environ("api.shop.test"), server_name="shop.test").match() == ("api", {})
    assert m.bind_to_environ(environ("shop.test:80"), server_name="shop.test:80").match() == ("home", {})
    with pytest.warns(UserWarning, match="not the configured server name"):
        a = m.bind_to_environ(environ("other.test"), server_name="shop.test")
    assert a.subdomain == "<invalid>"
    with pytest.raises(NotFound):
        a.match()


def test_a_separator_in_the_host_matches_nothing() -> None:
    m = Map([Rule("/x", endpoint="x", host="<h>")], host_matching=True)
    with pytest.raises(NotFound):
        m.bind("a|/x").match("/x")


def test_host_matching_prefers_a_rule_of_the_adapters_host_when_building() -> None:
    m = Map(
        [Rule("/", endpoint="i", host="a.test"), Rule("/", endpoint="i", host="b.test")], host_matching=True
    )
    assert m.bind("B.TEST").build("i") == "/"
    assert m.bind("a.test").build("i") == "/"
    assert m.bind("c.test").build("i") == "http://a.test/"


def test_canonical_redirect_goes_to_the_canonical_host() -> None:
    m = Map(
        [
            Rule("/", defaults={"n": 1}, endpoint="p", subdomain="www"),
            Rule("/<int:n>", endpoint="p", subdomain="x"),
        ]
    )
    with pytest.raises(RequestRedirect) as info:
        m.bind("shop.test", subdomain="x").match("/1")
    assert info.value.new_url == "http://www.shop.test/"


# ------------------------------------------------------------------------------------------ websocket


def test_websocket_rules_answer_websocket_requests_only() -> None:
    m = Map([Rule("/", endpoint="page"), Rule("/", endpoint="live", websocket=True)])
    assert m.bind("h").match("/") == ("page", {})
    assert m.bind("h", url_scheme="wss").match("/") == ("live", {})
    upgrade = environ("h", HTTP_CONNECTION="keep-alive, Upgrade", HTTP_UPGRADE="websocket")
    assert m.bind_to_environ(upgrade).match() == ("live", {})
    only_ws = Map([Rule("/ws", endpoint="ws", websocket=True), Rule("/plain", endpoint="plain")]).bind("h")
    with pytest.raises(WebsocketMismatch):
        only_ws.match("/ws")
    with pytest.raises(WebsocketMismatch):
        only_ws.match("/plain", websocket=True)
    with pytest.raises(ValueError, match="GET, HEAD and OPTIONS"):
        Rule("/ws", endpoint="ws", websocket=True, methods=["POST"])


def test_websocket_urls_have_the_websocket_scheme() -> None:
    m = Map([Rule("/ws", endpoint="ws", websocket=True), Rule("/p", endpoint="p")])
    assert m.bind("h").build("ws") == "ws://h/ws"
    assert m.bind("h", url_scheme="https").build("ws") == "wss://h/ws"
    assert m.bind("h", url_scheme="wss").build("p", force_external=True) == "https://h/p"
    assert m.bind("h", url_scheme="").build("p", force_external=True) == "//h/p"
    assert m.bind("h").build("p", force_external=True, url_scheme="https") == "https://h/p"


# ------------------------------------------------------------------------------------------ factories


def test_rule_factories_give_changed_copies() -> None:
    blog = [Rule("/", endpoint="index"), Rule("/<int:id>", endpoint="post")]
    m = Map(
        [
            Submount("/blog/", [EndpointPrefix("blog.", blog)]),
            Subdomain("<lang>", [Rule("/about", endpoint="about")]),
        ]
    )
    assert sorted((r.rule, r.endpoint, r.subdomain) for r in m.iter_rules()) == [
        ("/about", "about", "<lang>"),
        ("/blog/", "blog.index", ""),
        ("/blog/<int:id>", "blog.post", ""),
    ]
    assert all(rule.map is None for rule in blog)  # the originals stay free for another map


def test_rule_template_fills_placeholders() -> None:
    shop = RuleTemplate([Rule("/$cc/", endpoint="$cc.home", defaults={"cc": "$cc"})])
    m = Map([shop(cc="de"), shop({"cc": "fr"})])
    a = m.bind("h")
    assert a.match("/fr/") == ("fr.home", {"cc": "fr"})
    assert a.build("de.home") == "/de/"


def test_empty_copies_a_rule_and_rules_are_not_hashable() -> None:
    rule = Rule("/x", {"a": 1}, "sub", ["POST"], endpoint="x")
    copy = rule.empty()
    assert copy.__dict__ == rule.__dict__ and copy == rule
    copy.methods.add("PUT")  # type: ignore[union-attr]
    assert "PUT" not in rule.methods  # type: ignore[operator]
    with pytest.raises(TypeError):
        hash(rule)


# ------------------------------------------------------------------------------------------ matching


def test_alias_redirects_to_the_url_the_endpoint_builds() -> None:
    a = Map(
        [
            Rule("/docs/", endpoint="docs"),
            Rule("/docs/index.html", endpoint="docs", alias=True),
            Rule("/p/<int:n>", endpoint="p"),
            Rule("/p-<int:n>.html", endpoint="p", alias=True),
        ]
    ).bind("h")
    with pytest.raises(RequestRedirect) as info:
        a.match("/docs/index.html", query_args={"q": "1"})
    assert info.value.new_url == "http://h/docs/?q=1"
    with pytest.raises(RequestRedirect) as info:
        a.match("/p-3.html")
    assert info.value.new_url == "http://h/p/3"
    assert a.build("p", {"n": 3}) == "/p/3"


def test_path_converters_yield_to_rules_with_more_static_text() -> None:
    a = Map(
        [
            Rule("/<path:page>", endpoint="page"),
            Rule("/<path:page>/edit", endpoint="edit"),
            Rule("/<a>/<b>/<c>", endpoint="three"),
        ]
    ).bind("h")
    assert a.match("/a/b/edit") == ("edit", {"page": "a/b"})
    assert a.match("/a/b/c") == ("three", {"a": "a", "b": "b", "c": "c"})
    assert a.match("/a/b") == ("page", {"page": "a/b"})
    two = Map([Rule("/<path:x>", endpoint="one"), Rule("/<path:x>/<path:y>", endpoint="two")]).bind("h")
    assert two.match("/a/b") == ("two", {"x": "a", "y": "b"})  # more converters first
    assert two.match("/a") == ("one", {"x": "a"})


def test_non_strict_leaf_also_answers_with_a_slash() -> None:
    a = Map(
        [
            Rule("/leaf", endpoint="leaf", strict_slashes=False),
            Rule("/both", endpoint="both_leaf", strict_slashes=False),
            Rule("/both/", endpoint="both_branch"),
            Rule("/any/<path:p>", endpoint="any", strict_slashes=False),
        ]
    ).bind("h")
    assert a.match("/leaf/") == ("leaf", {})
    assert a.match("/both/") == ("both_branch", {})
    assert a.match("/any/x/") == ("any", {"p": "x/"})


def test_merge_slashes_per_rule() -> None:
    a = Map([Rule("/a//b", endpoint="ab"), Rule("/c/d", endpoint="cd", merge_slashes=False)]).bind("h")
    assert a.build("ab") == "/a/b"
    with pytest.raises(NotFound):
        a.match("/c//d")  # its merged form is a rule that does not merge


def test_empty_path_redirects_to_the_root() -> None:
    with pytest.raises(RequestRedirect) as info:
        Map([Rule("/", endpoint="i")]).bind("h", "/app").match("")
    assert info.value.new_url == "http://h/app/"


def test_dispatch_returns_redirects_and_optionally_errors() -> None:
    a = Map([Rule("/", endpoint="i"), Rule("/d/", endpoint="d")]).bind("h")
    assert a.dispatch(lambda endpoint, values: endpoint, "/") == "i"
    assert isinstance(a.dispatch(lambda e, v: e, "/d"), RequestRedirect)
    with pytest.raises(NotFound):
        a.dispatch(lambda e, v: e, "/x")
    assert isinstance(a.dispatch(lambda e, v: e, "/x", catch_http_exceptions=True), NotFound)
    with pytest.raises(MethodNotAllowed):
        Map([Rule("/", endpoint="i", methods=["POST"])]).bind("h").dispatch(lambda e, v: e, "/")


# ------------------------------------------------------------------------------------------ building


def test_build_prefers_the_rule_whose_defaults_match() -> None:
    a = Map(
        [
            Rule("/users/", defaults={"page": 1}, endpoint="users"),
            Rule("/users/page/<int:page>", endpoint="users"),
        ]
    ).bind("h")
    assert a.build("users", {"page": 1}) == "/users/"
    assert a.build("users", {"page": 2}) == "/users/page/2"


def test_build_without_method_tries_the_default_method_first() -> None:
    a = Map(
        [
            Rule("/s_get", endpoint="s", methods=["GET"]),
            Rule("/s_post_longer", endpoint="s", methods=["POST"]),
        ]
    ).bind("h")
    assert a.build("s") == "/s_get"
    assert a.build("s", method="POST") == "/s_post_longer"


class ListConverter(BaseConverter):
    def to_url(self, value: Any) -> str:
        return super().to_url("+".join(map(str, value)))


def test_build_values_converter_errors_reach_the_caller() -> None:
    a = Map(
        [Rule("/<int:v>", endpoint="int"), Rule("/<list:v>", endpoint="list")],
        converters={"list": ListConverter},
    ).bind("h")
    with pytest.raises(TypeError):
        a.build("int", {"v": [1]})
    assert a.build("list", MultiDict([("v", 1), ("v", None)])) == "/1+None"
    assert a.build("int", {"v": 1, "q": [1, None, 2]}) == "/1?q=1&q=2"


def test_sort_parameters() -> None:
    m = Map([Rule("/", endpoint="i")], sort_parameters=True, sort_key=lambda item: item[1])
    assert m.bind("h").build("i", {"a": "3", "b": "1", "c": "2"}) == "/?b=1&c=2&a=3"


def test_build_error_suggests_the_closest_rule() -> None:
    m = Map([Rule("/u/<id>", endpoint="users", methods=["GET"]), Rule("/p", endpoint="posts")])
    a = m.bind("h")
    with pytest.raises(BuildError) as info:
        a.build("user")
    assert info.value.suggested is not None and info.value.suggested.endpoint == "users"
    assert "Did you mean 'users' instead?" in str(info.value)
    assert BuildError("x", {}, None).suggested is None


def test_map_repr_and_default_converters() -> None:
    class MyMap(Map):
        default_converters = {**Map.default_converters, "word": Map.default_converters["string"]}

    m = MyMap([Rule("/<word:w>", endpoint="w")])
    assert m.bind("h").match("/x") == ("w", {"w": "x"})
    assert "word" not in Map.default_converters
    assert repr(Map([Rule("/a", endpoint="a")])) == "Map([<Rule '/a' -> a>])"


def test_a_default_wins_over_a_variable_of_the_same_name() -> None:
    m = Map([Rule("/", defaults={"site": "main"}, host="<site>", endpoint="i")], host_matching=True)
    assert m.bind("blog.test").match("/") == ("i", {"site": "main"})


def test_slash_redirect_beats_405_when_the_slashed_rule_takes_the_method() -> None:
    a = Map(
        [Rule("/bar/", endpoint="get", methods=["GET"]), Rule("/bar", endpoint="post", methods=["POST"])]
    ).bind("h")
    with pytest.raises(RequestRedirect) as info:
        a.match("/bar", "GET")
    assert info.value.new_url == "http://h/bar/"
    assert a.match("/bar", "POST") == ("post", {})
    with pytest.raises(MethodNotAllowed):
        a.match("/bar/", "POST")


def test_converter_arguments_may_quote_parentheses_and_backslashes() -> None:
    class Regex(BaseConverter):
        def __init__(self, map: Map, pattern: str) -> None:
            super().__init__(map)
            self.regex = pattern

    a = Map([Rule(r"/<re('(ab)+\.x'):v>", endpoint="r")], converters={"re": Regex}).bind("h")
    assert a.match("/abab.x") == ("r", {"v": "abab.x"})
    with pytest.raises(ValueError):
        Map([Rule("/<int(min=0;max=5):v>", endpoint="v")])


def test_bind_keeps_the_port_apart_from_an_idna_name() -> None:
    # the port is no part of the label: with it, this label would be too long for IDNA
    name = Map().bind("\u2603" + "a" * 52 + ":8443").server_name
    assert name.startswith("xn--") and name.endswith(":8443") and "%" not in name


def test_canonical_redirect_keeps_the_other_values_quoted() -> None:
    a = Map(
        [Rule("/<c>", defaults={"page": 1}, endpoint="c"), Rule("/<c>/page/<int:page>", endpoint="c")]
    ).bind("h")
    with pytest.raises(RequestRedirect) as info:
        a.match("/a b/page/1")
    assert info.value.new_url == "http://h/a%20b"
