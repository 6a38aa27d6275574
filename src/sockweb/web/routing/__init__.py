"""URL routing: a Map of Rules, matched against a request path and used to build URLs back.

Strategy. A rule string such as ``/users/<int(min=1):id>/edit`` is parsed once into static text and
converter slots. Rules are sorted by specificity (segment by segment: static text beats a mixed segment,
which beats a converter, and a low-weight converter such as ``int`` beats ``string``, which beats ``path``),
so the result does not depend on definition order where it matters. The map indexes its rules so that no
request loops over every rule: static paths are one dict lookup, dynamic rules are compiled into one
regex per static prefix. A fast path answers the common case; anything unusual (405, a converter
refusing a value, a slash redirect) falls back to an exhaustive scan in the same order.

Import from this package; the submodules are its layout, one concept each:

* ``converters``: the converter classes and the parsing of their arguments;
* ``rules``: ``Rule``, parsing and compiling one template, its sort order and per-rule building;
* ``map``: ``Map``, the rules of an application and the index built from them for matching;
* ``adapter``: ``MapAdapter``, a map bound to one request: ``match()`` and ``build()``;
* ``factories``: ``Submount``, ``Subdomain``, ``EndpointPrefix``, ``RuleTemplate``: rules made from rules;
* ``errors``: ``ValidationError``, ``BuildError``, ``WebsocketMismatch``, ``AutomaticOptions``.
"""

from __future__ import annotations

from sockweb.web.exceptions import RequestRedirect
from sockweb.web.routing.adapter import MapAdapter
from sockweb.web.routing.converters import (
    DEFAULT_CONVERTERS,
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
    parse_converter_args,
)
from sockweb.web.routing.errors import AutomaticOptions, BuildError, ValidationError, WebsocketMismatch
from sockweb.web.routing.factories import (
    EndpointPrefix,
    RuleFactory,
    RuleTemplate,
    RuleTemplateFactory,
    Subdomain,
    Submount,
)
from sockweb.web.routing.map import Map
from sockweb.web.routing.rules import Rule

__all__ = [
    "DEFAULT_CONVERTERS",
    "AnyConverter",
    "AutomaticOptions",
    "BaseConverter",
    "BuildError",
    "EndpointPrefix",
    "FloatConverter",
    "IntegerConverter",
    "Map",
    "MapAdapter",
    "PathConverter",
    "RequestRedirect",
    "Rule",
    "RuleFactory",
    "RuleTemplate",
    "RuleTemplateFactory",
    "Subdomain",
    "Submount",
    "UUIDConverter",
    "UnicodeConverter",
    "ValidationError",
    "WebsocketMismatch",
    "parse_converter_args",
]
