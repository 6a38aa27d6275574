"""What the App's Jinja2 templates compile to: Jinja2's own Python, with two hot spots inlined.

Strategy: Jinja2 compiles a template to Python source through a ``CodeGenerator`` that an environment
names in ``code_generator_class``. This module's generator writes the same code as Jinja2's except for
two expressions that dominate a typical page, where it puts the common case inline and leaves every other
case to the call Jinja2 makes:

``obj.name``
    Jinja2 writes ``environment.getattr(obj, "name")``, which tries the attribute, catches the
    AttributeError and then tries the item. For a plain ``dict`` and a name that is not one of a dict's
    attributes (known when the template is compiled) the answer is always the item, so the code reads
    it directly when the key is there; anything else (another type, a missing key) makes the same call
    as before. The same goes for a for loop's ``loop.first``, ``loop.index`` and the other public
    attributes of a ``LoopContext``: read directly when the object is one (``first`` and ``index`` as
    the properties compute them, from ``index0``). Done only while the environment's ``getattr`` is
    Jinja2's own or :class:`Environment`'s, whose answers these reads are.

``"%.2f"|format(value)``
    Jinja2 writes a call to the ``format`` filter, which calls ``soft_str`` on the literal and applies
    ``%`` to its arguments. For a string literal with positional arguments only, the code applies ``%``
    itself while the environment's ``format`` filter is Jinja2's own (checked at each render, as the
    filter is looked up then); a filter put in its place is called as before.

``{{ value }}`` with autoescape on
    Jinja2 writes ``escape(value)``; markupsafe's ``escape`` wraps a ``str`` in ``Markup`` after escaping
    it. The escaped pieces are only ever joined into the rendered text, so for a ``str`` the code calls
    the escaping itself (markupsafe's C ``_escape_inner``) and for an ``int`` takes ``str(value)`` (its
    text has nothing to escape); every other value goes to ``escape`` as before. Done only when the
    installed markupsafe has ``_escape_inner`` (3.0 and later); otherwise the code is Jinja2's.

:class:`Template` builds each render's context from the globals merged in C (see there), and
:class:`TemplateCache` answers a repeated ``get_template(name)`` from a plain dict in front of Jinja2's
LRU cache, emptied by every write to that cache (see there).

The rendered text is the same as plain Jinja2's; tests/framework/test_templatecode.py holds the two equal
on Jinja2's constructs and on values of every kind, and runs Jinja2's own test suite through this module.
Async environments and volatile autoescape blocks keep Jinja2's code.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import jinja2
import markupsafe
from jinja2 import nodes
from jinja2.compiler import CodeGenerator as JinjaCodeGenerator
from jinja2.compiler import Frame, optimizeconst
from jinja2.filters import do_format
from jinja2.runtime import Context, new_context
from jinja2.utils import LRUCache, missing

# The escaping of a str, without the Markup around it (markupsafe 3: the C speedup or its Python twin).
escape_str: Any = getattr(markupsafe, "_escape_inner", None)

# What getattr finds on a plain dict: its methods and object's. Nothing else, since a dict has no
# instance attributes.
DICT_ATTRIBUTES = frozenset(dir(dict))

# The public attributes of a for loop's ``loop`` (first, index, cycle, ...): plain reads of a LoopContext.
LOOP_ATTRIBUTES = frozenset(name for name in dir(jinja2.runtime.LoopContext) if not name.startswith("_"))

# The two loop attributes read most, as the LoopContext properties compute them (a property call less).
_LOOP_READS = {"first": "{}.index0 == 0", "index": "{}.index0 + 1"}

# Names in the generated code (Jinja2's own names are l_*, t_*, environment, context, ...).
_VALUE = "_sw_v"
_OUT = "_sw_o"
_OUT_TYPE = "_sw_t"
_ESCAPE_STR = "_sw_escape_str"
_DO_FORMAT = "_sw_do_format"
_ARGS = "_sw_a"


class CodeGenerator(JinjaCodeGenerator):
    """Jinja2's code generator with ``obj.name`` of dicts and autoescaped output of str and int inline."""

    def _inline_getattr(self) -> bool:
        """Whether the environment resolves attributes as Jinja2 does: no getattr but Jinja2's and
        :class:`Environment`'s anywhere in its class's MRO (a sandbox mixed in has its own, and keeps
        every lookup going through it), and none set on the instance."""
        env = self.environment
        if env.is_async or "getattr" in vars(env):
            return False
        plain = (Environment, jinja2.Environment)
        return all(cls in plain for cls in type(env).__mro__ if "getattr" in vars(cls))

    def _inline_escape(self, frame: Frame, finalize: JinjaCodeGenerator._FinalizeInfo) -> bool:
        return (
            escape_str is not None
            and not self.environment.is_async
            and not frame.eval_ctx.volatile
            and bool(frame.eval_ctx.autoescape)
            and finalize.src is None
        )

    def _inline_format(self, node: nodes.Filter) -> bool:
        """Whether ``node`` is ``"literal"|format(positional, ...)`` of Jinja2's own format filter."""
        return (
            node.name == "format"
            and not self.environment.is_async
            and self.environment.filters.get("format") is do_format
            and isinstance(node.node, nodes.Const)
            and type(node.node.value) is str
            and bool(node.args)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        if escape_str is not None:
            self.writeline(f"from {__name__} import escape_str as {_ESCAPE_STR}")
        self.writeline(f"from jinja2.filters import do_format as {_DO_FORMAT}")
        super().visit_Template(node, frame)
        if not self.environment.is_async:
            # The module's for loops make LoopContext objects, a name its functions look up when they
            # run: from here on it names this module's faster subclass (the import above it is Jinja2's).
            self.writeline(f"from {__name__} import LoopContext")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if not self._inline_getattr() or node.attr in DICT_ATTRIBUTES:
            super().visit_Getattr(node, frame)
            return
        # The inner expression is evaluated once, into _sw_v; nothing else runs between that and the
        # reads of _sw_v below, so a nested a.b.c is safe with one name.
        key, value = repr(node.attr), _VALUE
        item = f"{value}[{key}] if type({value}) is dict and {key} in {value}"
        if node.attr in LOOP_ATTRIBUTES:
            read = _LOOP_READS.get(node.attr, "{}." + node.attr).format(value)
            self.write(f"({read} if type({value} := ")
            self.visit(node.node, frame)
            self.write(f") is LoopContext else {item}")
        else:
            self.write(f"({value}[{key}] if type({value} := ")
            self.visit(node.node, frame)
            self.write(f") is dict and {key} in {value}")
        self.write(f" else environment.getattr({value}, {key}))")

    @optimizeconst
    def visit_Filter(self, node: nodes.Filter, frame: Frame) -> None:
        if not self._inline_format(node):
            super().visit_Filter(node, frame)
            return
        # The arguments are evaluated once, into a tuple (never empty, so true); then either branch.
        assert isinstance(node.node, nodes.Const)  # _inline_format checked it
        literal, name = repr(node.node.value), self.filters[node.name]
        self.write(f"({literal} % {_ARGS} if ({_ARGS} := (")
        for arg in node.args:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f")) and {name} is {_DO_FORMAT} else {name}({literal}, *{_ARGS}))")

    def _output_child_pre(
        self, node: nodes.Expr, frame: Frame, finalize: JinjaCodeGenerator._FinalizeInfo
    ) -> None:
        if not self._inline_escape(frame, finalize):
            super()._output_child_pre(node, frame, finalize)
            return
        self.write(f"({_ESCAPE_STR}({_OUT}) if ({_OUT_TYPE} := type({_OUT} := ")

    def _output_child_post(
        self, node: nodes.Expr, frame: Frame, finalize: JinjaCodeGenerator._FinalizeInfo
    ) -> None:
        if not self._inline_escape(frame, finalize):
            super()._output_child_post(node, frame, finalize)
            return
        self.write(f")) is str else str({_OUT}) if {_OUT_TYPE} is int else escape({_OUT}))")


class LoopContext(jinja2.runtime.LoopContext):
    """Jinja2's ``loop`` object, faster to step: its state is in slots, and iterating it runs a generator
    instead of calling ``__next__``. Every attribute and method is Jinja2's, reading the same state, so
    ``loop.last``, ``loop.nextitem``, ``loop.changed()`` and ``loop(...)`` (recursive loops) work as there;
    a step does what ``LoopContext.__next__`` does."""

    __slots__ = (
        "_after", "_before", "_current", "_iterable", "_iterator", "_last_changed_value", "_length",
        "_recurse", "_undefined", "depth0", "index0",
    )  # fmt: skip

    def __init__(
        self,
        iterable: Iterable[Any],
        undefined: type[jinja2.Undefined],
        recurse: Any = None,
        depth0: int = 0,
    ) -> None:
        # The class-level defaults of Jinja2's LoopContext, as slots need values before they are read.
        self.index0 = -1
        self._length = None
        self._after = self._before = self._current = self._last_changed_value = missing
        super().__init__(iterable, undefined, recurse, depth0)

    def __iter__(self) -> Iterator[tuple[Any, LoopContext]]:  # type: ignore[override]
        while True:
            if self._after is missing:  # nothing peeked at (by loop.last, loop.nextitem, ...)
                # self._iterator each time: loop.length replaces it with one over the rest, listed.
                for item in self._iterator:  # noqa: B007 (the next item, without next()'s StopIteration)
                    break
                else:
                    return
            else:
                item = self._after
                self._after = missing
            self.index0 += 1
            self._before = self._current
            self._current = item
            yield item, self


class Template(jinja2.Template):
    """A Jinja2 template whose render context starts from its globals as one dict.

    A template's ``globals`` is a ChainMap of its own globals over the environment's (so a global added to
    the environment later is seen); Jinja2 copies it into each render's context with ``dict()`` and
    ``set()``, which look every name up through the ChainMap in Python. Here the maps are merged into a
    dict first, innermost last, which C does: the same names and values, a fifth of a small page's
    rendering less."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        globals: MutableMapping[str, Any] = self.globals
        if type(globals) is ChainMap:
            flat: dict[str, Any] = {}
            for mapping in reversed(globals.maps):
                flat.update(mapping)
            globals = flat
        return new_context(self.environment, self.name, self.blocks, vars, shared, globals, locals)


class TemplateCache(LRUCache):
    """Jinja2's cache of loaded templates (an LRU cache with a lock), with an index that
    :meth:`Environment.get_template` reads first: name -> (loader, template), a plain dict read without
    the lock, the weakref key and the LRU bookkeeping of a lookup.

    The index never answers what the cache would not: every write to the cache (a load, a reload, an
    eviction, a removal, ``clear()``) empties it, and a template enters it only from a lookup of the
    cache with no write in between. Between two writes, the templates asked for since the first are
    refreshed in the LRU order once, on their first lookup; so an eviction still drops one not used
    since the last load."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.index: dict[str, tuple[Any, jinja2.Template]] = {}
        self.writes = 0

    def _written(self) -> None:
        self.writes += 1
        self.index = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        self._written()
        super().__setitem__(key, value)
        self._written()  # a lookup that raced with this write must not index what it evicted

    def __delitem__(self, key: Any) -> None:
        self._written()
        super().__delitem__(key)

    def clear(self) -> None:
        self._written()
        super().clear()
        self._written()


class Environment(jinja2.Environment):
    """A Jinja2 environment whose templates compile with :class:`CodeGenerator` and render with
    :class:`Template`, whose ``getattr`` finds a plain dict's items without raising AttributeError
    first (for the lookups the code leaves to it), and whose template cache is a :class:`TemplateCache`
    (when it is Jinja2's LRU cache, the default)."""

    code_generator_class = CodeGenerator
    template_class = Template

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cache: Any = self.cache  # typed as a MutableMapping, which Jinja2's LRUCache is not declared as
        if type(cache) is LRUCache:
            self.cache = TemplateCache(cache.capacity)  # type: ignore[assignment]

    def get_template(
        self,
        name: str | jinja2.Template,
        parent: str | None = None,
        globals: MutableMapping[str, Any] | None = None,
    ) -> jinja2.Template:
        """Jinja2's ``get_template``, answered from the cache's index when it can be: a name alone,
        no auto-reload (whose check of the source must run each time), the same loader."""
        cache: Any = self.cache
        if type(cache) is not TemplateCache or type(name) is not str or parent or globals or self.auto_reload:
            return super().get_template(name, parent, globals)
        loader = self.loader
        hit = cache.index.get(name)
        if hit is not None and hit[0] is loader:
            return hit[1]
        writes = cache.writes
        template = super().get_template(name)
        if cache.writes == writes:
            cache.index[name] = (loader, template)
        return template

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` as Jinja2 resolves it (the attribute, else the item), with the answer for a
        plain dict found without first raising AttributeError: a dict's only attributes are its methods,
        so any other name is its item or undefined."""
        if type(obj) is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)
