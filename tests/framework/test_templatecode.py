"""The framework's Jinja2 code generator renders what plain Jinja2 renders (sockweb.framework.templatecode).

Each case renders one template with plain ``jinja2.Environment`` and with ``templatecode.Environment`` and
compares the text, or the exception's type and message. The installed Jinja2's own test suite runs with the
generator too (the last test).
"""

from __future__ import annotations

import collections
import importlib.metadata
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from sockweb.framework import templatecode

REPO = Path(__file__).resolve().parents[2]


class Html:
    def __html__(self) -> str:
        return "<b>html</b>"

    def __str__(self) -> str:
        return "<not used>"


class Shouting:
    def __str__(self) -> str:
        return "<shout> & 'quote' \"double\""


class WeirdInt(int):
    def __str__(self) -> str:
        return "<int>"


class WeirdStr(str):
    pass


class HtmlStr(str):
    def __html__(self) -> str:
        return "<from __html__>"


class Obj:
    name = "attr <name>"
    items = "an attribute called items"

    def __getitem__(self, key: str) -> str:
        return f"item {key}"


class ItemsOnly:
    def __getitem__(self, key: str) -> str:
        return f"<item {key}>"


class Row(dict):  # type: ignore[type-arg]
    label = "attribute"


VALUES: dict[str, Any] = {
    "s": "plain <text> & 'q' \"d\"",
    "empty": "",
    "ws": WeirdStr("<weird str>"),
    "hs": HtmlStr("<html str>"),
    "markup": Markup("<i>safe</i>"),
    "i": 42,
    "neg": -7,
    "wi": WeirdInt(3),
    "big": 10**30,
    "t": True,
    "f": 2.5,
    "none": None,
    "lst": ["<a>", 1],
    "tup": ("<", ">"),
    "d": {
        "name": "<dict name>",
        "id": 7,
        "items": "<key items>",
        "first": "<key first>",
        "nested": {"x": "<x>"},
    },
    "od": collections.OrderedDict(name="<od name>"),
    "dd": collections.defaultdict(str, name="<dd name>"),
    "row": Row(name="<row>", label="item"),
    "html": Html(),
    "shout": Shouting(),
    "obj": Obj(),
    "items_only": ItemsOnly(),
    "seq": ["<a>", "b", "<c>"],
    "bytes": b"<bytes>",
}

TEMPLATES = [
    # output of every kind of value
    *(f"{{{{ {name} }}}}" for name in VALUES),
    "{{ missing }}",
    "{{ s ~ i }}|{{ i + 1 }}|{{ f * 2 }}|{{ -i }}",
    "{{ s|e }}|{{ s|safe }}|{{ markup ~ s }}|{{ s|upper }}|{{ '%.2f'|format(f) }}",
    # the format filter: a literal with positional arguments (inline), and every other form (the filter)
    "{{ '%s|%r|%d'|format(s, markup, i) }}|{{ '<%s>'|format(html) }}|{{ '%s'|format(tup) }}|{{ '%s'|format(lst) }}",
    "{{ '%.2f %s'|format(f, d.name)|upper }}|{{ ('%s-' ~ s)|format(i) }}|{{ s|format() }}|{{ '%(a)s'|format(a=s) }}",
    "{{ '%d'|format(s) }}",  # a TypeError from %, the same both ways
    "{{ '%s %s'|format(i) }}|{{ '%s'|format(i, i) }}",
    "{{ '%s'|format(missing) }}|{{ '%s'|format('%s'|format(markup)) }}|{{ '%s'|format(*seq[:1]) }}",
    "{% for x in seq %}{{ '%d:%s'|format(loop.index, x) }}{% endfor %}|{{ markup|format(i) }}",
    # attribute lookups
    "{{ d.name }}|{{ d.id }}|{{ d.missing }}|{{ d.items }}|{{ d['items'] }}|{{ d.first }}",
    "{{ d.nested.x }}|{{ d.nested.missing }}|{{ d.missing.x is undefined }}",
    "{{ od.name }}|{{ dd.name }}|{{ dd.missing }}|{{ row.label }}|{{ row.name }}",
    "{{ obj.name }}|{{ obj.items }}|{{ obj.missing }}|{{ items_only.key }}|{{ s.upper() }}|{{ i.real }}",
    "{{ none.x }}|{{ missing.x is undefined }}|{{ lst.0 }}|{{ d[obj.name] }}|{{ (d.nested).x }}",
    "{{ d.values() | list | length }}|{{ d.get('name') }}|{{ d.keys | string | length > 0 }}",
    # the loop variable, a dict that stands in for it, and lookups inside loops
    (
        "{% for x in seq %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}"
        "{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.cycle('<odd>', 'even') }}{{ loop.previtem }}"
        "{{ loop.nextitem }}{{ loop.changed(x) }}{{ loop.depth }}{{ x }};{% endfor %}"
    ),
    "{% for x in seq %}{% for loop in [d] %}{{ loop.first }}{{ loop.name }}{% endfor %}{% endfor %}",
    "{% for row in [d, od, obj, items_only, none] %}[{{ row.name }}|{{ row.first }}|{{ loop.first }}]{% endfor %}",
    "{% for a in [[1, 2], [3]] recursive %}{{ loop.depth }}{% if a is iterable %}{{ loop(a) }}{% endif %}{% endfor %}",
    "{% for row in [d, od, obj, none] if row.name %}{{ row.name }}{{ loop.index }}/{{ loop.length }};{% endfor %}",
    "{% for x in seq|select %}{{ x }}{{ loop.nextitem }}{{ loop.length }}{{ loop.revindex }}{{ loop.last }};{% endfor %}",
    "{% set x = d.nested.x %}{{ x|upper }}{% if d.name is defined and obj.name %}{{ d.id * 2 }}{% endif %}",
    "{{ [d.name, od.name]|join(',') }}|{{ d|attr('name') }}|{{ seq|map('upper')|join }}|{{ (d.id, d.name) }}",
    # output that is buffered: macros, call blocks, set blocks, filter blocks, includes of strings
    "{% macro m(v) %}<{{ v }}|{{ v.name }}>{% endmacro %}{{ m(s) }}{{ m(d) }}{{ m(i) }}",
    "{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}{{ s }}{{ d.name }}{% endcall %}",
    "{% set block %}{{ s }}{{ i }}{% endset %}{{ block }}|{{ block|length }}",
    "{% filter upper %}{{ s }}{{ i }}{{ d.name }}{% endfilter %}",
    "{% with v = d.name %}{{ v }}{% endwith %}{% set ns = namespace(x=d) %}{{ ns.x.name }}",
    # autoescape switched inside the template, constant and volatile
    "{% autoescape false %}{{ s }}{{ d.name }}{% endautoescape %}{{ s }}",
    "{% autoescape flag %}{{ s }}{{ i }}{{ d.name }}{% endautoescape %}|{{ s }}",
]


def _render(env: jinja2.Environment, source: str, **extra: Any) -> tuple[str, str]:
    try:
        return ("text", env.from_string(source).render(VALUES, **extra))
    except Exception as exc:  # the same exception both ways is the same behaviour
        return (type(exc).__name__, str(exc))


ENV_OPTIONS: list[dict[str, Any]] = [
    {"autoescape": True},
    {"autoescape": False},
    {"autoescape": True, "undefined": jinja2.StrictUndefined},
    {"autoescape": True, "undefined": jinja2.ChainableUndefined},
    {"autoescape": True, "finalize": lambda v: "" if v is None else v},
]


@pytest.mark.parametrize(
    "options", ENV_OPTIONS, ids=lambda o: ",".join(f"{k}={v!r}"[:30] for k, v in o.items())
)
@pytest.mark.parametrize("source", TEMPLATES)
def test_renders_what_plain_jinja2_renders(source: str, options: dict[str, Any]) -> None:
    plain = jinja2.Environment(**options)
    ours = templatecode.Environment(**options)
    for flag in (True, False):
        assert _render(ours, source, flag=flag) == _render(plain, source, flag=flag)


def _code(env: jinja2.Environment, source: str) -> str:
    return str(env.compile(source, raw=True))


def test_the_inline_paths_are_what_the_environment_compiles_to() -> None:
    code = _code(
        templatecode.Environment(autoescape=True), "{{ d.name }}{% for x in s %}{{ loop.first }}{% endfor %}"
    )
    assert "environment.getattr(_sw_v, 'name')" in code  # the dict read inline, the call as the fallback
    assert "_sw_v.index0 == 0 if type(_sw_v := l_1_loop) is LoopContext" in code
    if templatecode.escape_str is not None:
        assert "_sw_escape_str(_sw_o)" in code
    loop = "{% for x in [1] %}{{ loop.__class__.__module__ }}.{{ loop.__class__.__name__ }}{% endfor %}"
    assert (
        templatecode.Environment().from_string(loop).render() == "sockweb.framework.templatecode.LoopContext"
    )
    assert "'%.2f' % _sw_a if (_sw_a := (" in _code(templatecode.Environment(), "{{ '%.2f'|format(f) }}")
    # where the lookups are Jinja2's, the code is too
    assert "_sw_v" not in _code(templatecode.Environment(), "{{ d.items }}{{ d.keys() }}")
    assert "_sw_o" not in _code(templatecode.Environment(autoescape=False), "{{ s }}")


class SandboxedOurs(templatecode.Environment, SandboxedEnvironment):
    pass


class LoggingEnvironment(templatecode.Environment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        return ("logged", super().getattr(obj, attribute))


def test_an_environment_with_another_getattr_keeps_every_lookup_going_through_it() -> None:
    source = "{{ d.name }}{% for x in s %}{{ loop.first }}{% endfor %}"
    for env in (SandboxedOurs(autoescape=True), LoggingEnvironment(autoescape=True)):
        assert "_sw_v" not in _code(env, source)
    assert LoggingEnvironment().from_string("{{ d.name }}").render(d={"name": "x"}) == "('logged', 'x')"
    instance = templatecode.Environment()
    instance.getattr = lambda obj, attribute: "from the instance"  # type: ignore[method-assign]
    assert instance.from_string("{{ d.name }}").render(d={"name": "x"}) == "from the instance"


def test_a_format_filter_put_in_place_of_jinja2s_is_called() -> None:
    env = templatecode.Environment()
    template = env.from_string("{{ '%s'|format(i) }}")  # compiled inline while the filter is Jinja2's
    assert template.render(i=1) == "1"
    env.filters["format"] = lambda value, *args: f"custom {value} {args}"
    assert template.render(i=1) == "custom %s (1,)"
    assert "_sw_a" not in _code(env, "{{ '%s'|format(i) }}")  # compiled now: the call, as Jinja2 writes it


def test_template_lookups_load_and_reload_as_jinja2s(tmp_path: Path) -> None:
    """The same lookups, in plain Jinja2 and in ours (whose cache has the index), see the same sources:
    a changed file is seen after clear(), after an eviction, with auto-reload, or from another loader."""
    results: dict[str, list[str]] = {}
    for env_class in (jinja2.Environment, templatecode.Environment):
        folder = tmp_path / env_class.__module__
        folder.mkdir()
        for name in "abc":
            (folder / name).write_text(f"{name} one")
        env = env_class(loader=jinja2.FileSystemLoader(folder), cache_size=2, auto_reload=False)
        seen = results.setdefault(env_class.__module__, [])

        def look(name: str, env: jinja2.Environment = env, seen: list[str] = seen) -> None:
            seen.extend(env.get_template(name).render() for _ in range(3))

        look("a")
        (folder / "a").write_text("a two")
        look("a")  # cached: still "a one", as auto_reload is off
        env.cache.clear()  # type: ignore[union-attr]
        look("a")
        look("b")
        (folder / "a").write_text("a three")
        look("a")  # b's load was a write; a is still cached
        look("c")  # evicts b, the least recently used
        (folder / "b").write_text("b two")
        look("b")  # loaded again (and evicts a)
        (folder / "a").write_text("a four")
        look("a")
        env.loader = jinja2.DictLoader({"a": "a from the dict"})
        look("a")
        env.auto_reload = True
        env.loader = jinja2.FileSystemLoader(folder)
        look("c")
        (folder / "c").write_text("c two")
        look("c")
        seen.append(
            env.get_template("a", globals={"g": "global"}).render() + str(env.get_template("a").globals)
        )
        seen.append(env.get_or_select_template(["missing", "b"]).render())
    plain, ours = results.values()
    assert ours == plain
    assert ours[3:6] == ["a one"] * 3 and ours[6] == "a two" and "b two" in ours and "a four" in ours


def test_a_template_asked_for_again_comes_from_the_index() -> None:
    env = templatecode.Environment(loader=jinja2.DictLoader({"page": "{{ x }}"}), auto_reload=False)
    first = env.get_template("page")
    assert isinstance(env.cache, templatecode.TemplateCache) and "page" not in env.cache.index  # loaded now
    assert env.get_template("page") is first
    assert env.cache.index["page"] == (env.loader, first)
    assert env.get_template("page") is first
    env.cache.clear()
    assert env.cache.index == {}
    env.auto_reload = True  # each lookup checks the source: Jinja2's way
    again = env.get_template("page")
    assert env.get_template("page") is again and env.cache.index == {}
    unbounded = templatecode.Environment(loader=env.loader, cache_size=-1)  # a dict, Jinja2's own way
    assert type(unbounded.cache) is dict and unbounded.get_template("page").render(x=1) == "1"


def test_a_sandbox_mixed_in_still_refuses_unsafe_attributes() -> None:
    env = SandboxedOurs()
    with pytest.raises(jinja2.exceptions.SecurityError, match="__code__"):
        env.from_string("{{ f.__code__.co_name }}").render(f=lambda: None)
    with pytest.raises(jinja2.exceptions.SecurityError, match="__class__"):
        env.from_string("{{ d.__class__.__name__ }}").render(d={"name": "item"})
    assert env.from_string("{{ d.name }}").render(d={"name": "item"}) == "item"


def test_streamed_output_is_the_same_text() -> None:
    source = TEMPLATES[TEMPLATES.index("{% filter upper %}{{ s }}{{ i }}{{ d.name }}{% endfilter %}") - 4]
    plain = jinja2.Environment(autoescape=True).from_string(source)
    ours = templatecode.Environment(autoescape=True).from_string(source)
    assert "".join(ours.generate(VALUES)) == "".join(plain.generate(VALUES))


def test_globals_reach_the_render_as_through_the_chain_of_maps() -> None:
    for env_class in (jinja2.Environment, templatecode.Environment):
        env = env_class()
        env.globals.update(a="env a", b="env b", c="env c")
        template = env.from_string("{{ a }}|{{ b }}|{{ c }}|{{ d }}", globals={"b": "template b"})
        env.globals["d"] = "added later"  # the environment's globals are looked at on each render
        assert template.render(c="render c") == "env a|template b|render c|added later"
        module = template.make_module({"a": "module a"})
        assert str(module) == "module a|template b|env c|added later"
    assert templatecode.Environment.template_class is templatecode.Template


# The installed Jinja2's own test suite, with every environment it makes compiling through our generator.
_PLUGIN = """\
import os
import jinja2
from sockweb.framework import templatecode

jinja2.Environment.code_generator_class = templatecode.CodeGenerator
jinja2.Environment.template_class = templatecode.Template
# A plain Environment becomes ours (its getattr, and the template cache with its index that get_template
# reads); the suite's subclasses (sandboxed, native) keep their own class and get the generator above.
_env_init = jinja2.Environment.__init__


def _ours(self, *args, **kwargs):
    _env_init(self, *args, **kwargs)
    if type(self) is jinja2.Environment:
        self.__class__ = templatecode.Environment
        if type(self.cache) is jinja2.utils.LRUCache:
            self.cache = templatecode.TemplateCache(self.cache.capacity)
            _indexed.append(1)


jinja2.Environment.__init__ = _ours
_indexed = []
_made = []
_init = templatecode.CodeGenerator.__init__


def _counting_init(self, *args, **kwargs):
    _made.append(1)
    _init(self, *args, **kwargs)


templatecode.CodeGenerator.__init__ = _counting_init


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["SOCKWEB_GENERATORS_MADE"], "w") as f:
        f.write(f"{len(_made)} {len(_indexed)}")
"""


def _jinja2_sdist(cache: Path) -> Path:
    version = importlib.metadata.version("jinja2")
    root = cache / f"jinja2-{version}"
    if not (root / "tests").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
             "-d", str(cache), f"jinja2=={version}"],
            check=True, timeout=300,
        )  # fmt: skip
        with tarfile.open(cache / f"jinja2-{version}.tar.gz") as tar:
            tar.extractall(cache, filter="data")
    return root


def test_jinja2s_own_suite_passes_with_the_generator(tmp_path: Path) -> None:
    cache = Path(os.environ.get("SOCKWEB_UPSTREAM_CACHE", REPO / ".upstream-cache"))
    root = _jinja2_sdist(cache)
    (tmp_path / "sockweb_jinja2_plugin.py").write_text(_PLUGIN, encoding="utf-8")
    made = tmp_path / "made"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "SOCKWEB_GENERATORS_MADE": str(made),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sockweb_jinja2_plugin",
         "-o", "addopts=", str(root / "tests")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    generators, indexed = map(int, made.read_text().split())
    assert generators > 500  # every template of the suite went through the generator
    assert indexed > 100  # and its plain environments were ours, with the indexed cache
