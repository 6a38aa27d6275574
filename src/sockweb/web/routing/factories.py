"""Rule factories: objects that stand among a Map's rules and give rules when the map is built.

Strategy. Anything with ``get_rules(map)`` is a rule factory (a ``Rule`` gives itself). The factories
here wrap a list of rules and factories and give *copies* of their rules with one thing changed: a path
prefix (``Submount``), a subdomain (``Subdomain``), an endpoint prefix (``EndpointPrefix``), or
``$name`` placeholders filled in (``RuleTemplate``). Copies, because a rule belongs to one map and a
factory may be added to several maps, or used several times in one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from string import Template
from typing import TYPE_CHECKING, Any, Protocol

from sockweb.web.routing.rules import Rule

if TYPE_CHECKING:
    from sockweb.web.routing.map import Map


class RuleFactory(Protocol):
    """What a Map accepts among its rules."""

    def get_rules(self, map: Map) -> Iterable[Rule]: ...


def _copy(rule: Rule, **changes: Any) -> Rule:
    """An unbound copy of ``rule`` with some constructor arguments replaced (subclasses keep theirs)."""
    kwargs = rule.get_empty_kwargs()
    string = changes.pop("string", rule.rule)
    kwargs.update(changes)
    return type(rule)(string, **kwargs)


class _Wrapper:
    """A list of rules and rule factories whose rules come out changed by ``_change``."""

    def __init__(self, rules: Iterable[RuleFactory]) -> None:
        self.rules = list(rules)

    def get_rules(self, map: Map) -> Iterator[Rule]:
        for factory in self.rules:
            for rule in factory.get_rules(map):
                yield self._change(rule)

    def _change(self, rule: Rule) -> Rule:
        raise NotImplementedError


class Submount(_Wrapper):
    """Rules below a path: ``Submount("/blog", [Rule("/", endpoint="blog.index")])`` matches ``/blog/``."""

    def __init__(self, path: str, rules: Iterable[RuleFactory]) -> None:
        super().__init__(rules)
        self.path = path.rstrip("/")

    def _change(self, rule: Rule) -> Rule:
        return _copy(rule, string=self.path + rule.rule)


class Subdomain(_Wrapper):
    """Rules of one subdomain (which may hold converters: ``Subdomain("<user>", [...])``)."""

    def __init__(self, subdomain: str, rules: Iterable[RuleFactory]) -> None:
        super().__init__(rules)
        self.subdomain = subdomain

    def _change(self, rule: Rule) -> Rule:
        return _copy(rule, subdomain=self.subdomain)


class EndpointPrefix(_Wrapper):
    """Rules whose (string) endpoints get a prefix: ``EndpointPrefix("blog.", [...])``."""

    def __init__(self, prefix: str, rules: Iterable[RuleFactory]) -> None:
        super().__init__(rules)
        self.prefix = prefix

    def _change(self, rule: Rule) -> Rule:
        return _copy(rule, endpoint=f"{self.prefix}{rule.endpoint}")


class RuleTemplate:
    """Rules with ``$name`` placeholders (``string.Template`` syntax), filled in by calling the template.

    ``blog = RuleTemplate([Rule("/$lang/", endpoint="$lang.index")])``; then ``Map([blog(lang="en"),
    blog(lang="de")])``. Placeholders are filled in the rule string, the subdomain, the host, the
    endpoint, a string ``redirect_to`` and string default values.
    """

    def __init__(self, rules: Iterable[RuleFactory]) -> None:
        self.rules = list(rules)

    def __call__(self, *args: Mapping[str, Any], **kwargs: Any) -> RuleTemplateFactory:
        return RuleTemplateFactory(self.rules, dict(*args, **kwargs))


class RuleTemplateFactory(_Wrapper):
    """The rules of a RuleTemplate with its placeholders filled in from ``context``."""

    def __init__(self, rules: Iterable[RuleFactory], context: Mapping[str, Any]) -> None:
        super().__init__(rules)
        self.context = dict(context)

    def _fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return Template(value).substitute(self.context)
        return value

    def _change(self, rule: Rule) -> Rule:
        fill = self._fill
        defaults = {key: fill(value) for key, value in rule.defaults.items()} if rule.defaults else None
        redirect_to: str | Callable[..., str] | None = rule.redirect_to
        return _copy(
            rule,
            string=fill(rule.rule),
            subdomain=fill(rule.subdomain),
            host=fill(rule.host),
            endpoint=fill(rule.endpoint),
            defaults=defaults,
            redirect_to=fill(redirect_to),
        )
