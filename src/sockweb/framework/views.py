"""Class-based views: :class:`View` (one ``dispatch_request``) and :class:`MethodView` (one method per verb).

Strategy: ``SomeView.as_view(name, *args)`` returns a plain view function, so the App treats it like any
other view. The contract with :meth:`App.add_url_rule` is written down once, here: ``as_view`` sets
exactly three attributes on the function it returns, and ``add_url_rule`` reads exactly those:

=============================  ======================================================================
``view_func.view_class``       the class (replaceable: the function instantiates whatever it names)
``view_func.methods``          the class's ``methods`` (None: the App's default, GET)
``view_func.provide_automatic_options``  the class's attribute (None: answer OPTIONS automatically
                               unless ``methods`` lists OPTIONS)
=============================  ======================================================================

A :class:`MethodView` subclass collects ``methods`` from the handler methods it (and its bases) define,
when the class itself does not set them. Coroutine handlers are run to completion through the App's
:meth:`~sockweb.framework.app.App.ensure_sync`, like coroutine view functions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, ClassVar

from .globals import current_app, request

#: the HTTP methods a MethodView subclass can handle with a method of the same (lower-case) name
HTTP_METHOD_FUNCS = frozenset({"get", "post", "head", "options", "delete", "put", "trace", "patch"})


class View:
    """Subclass and implement :meth:`dispatch_request`; register with
    ``app.add_url_rule("/users/", view_func=UserList.as_view("users"))``.

    ``methods``: the methods the rule accepts. ``provide_automatic_options``: whether OPTIONS is answered
    for the view (None: yes unless ``methods`` lists OPTIONS). ``decorators``: applied, in order, to the
    function ``as_view`` returns. ``init_every_request`` (default True): a fresh instance per request; False
    makes one instance at ``as_view`` time, shared by every request (and thread), so it must hold no
    per-request state.
    """

    methods: ClassVar[Collection[str] | None] = None
    provide_automatic_options: ClassVar[bool | None] = None
    decorators: ClassVar[list[Callable[..., Any]]] = []
    init_every_request: ClassVar[bool] = True

    def dispatch_request(self, **kwargs: Any) -> Any:
        """Produce the response value for the matched URL values (like a view function)."""
        raise NotImplementedError()

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> Callable[..., Any]:
        """A view function named ``name`` (the default endpoint) that runs this class.

        ``class_args``/``class_kwargs`` go to the constructor.
        """
        view: Callable[..., Any]
        if cls.init_every_request:

            def view(**kwargs: Any) -> Any:
                instance = view.view_class(*class_args, **class_kwargs)  # type: ignore[attr-defined]
                return current_app.ensure_sync(instance.dispatch_request)(**kwargs)

        else:
            shared = cls(*class_args, **class_kwargs)

            def view(**kwargs: Any) -> Any:
                return current_app.ensure_sync(shared.dispatch_request)(**kwargs)

        for decorator in cls.decorators:
            view = decorator(view)
        # The contract with add_url_rule (see the module docstring): these three and nothing else.
        view.view_class = cls  # type: ignore[attr-defined]
        view.methods = cls.methods  # type: ignore[attr-defined]
        view.provide_automatic_options = cls.provide_automatic_options  # type: ignore[attr-defined]
        view.__name__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        return view


class MethodView(View):
    """Dispatch to the method named after the request's verb: ``get``, ``post``, ``delete``...

    HEAD falls back to ``get`` when the class has no ``head``. ``methods`` is derived from the handlers the
    class and its bases define, unless the class sets it.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        methods: set[str] = set()
        for base in cls.__bases__:
            methods.update(getattr(base, "methods", None) or ())
        methods.update(name.upper() for name in HTTP_METHOD_FUNCS if hasattr(cls, name))
        if methods:
            cls.methods = methods

    def dispatch_request(self, **kwargs: Any) -> Any:
        method_name = request.method.lower()
        handler = getattr(self, method_name, None)
        if handler is None and method_name == "head":
            handler = getattr(self, "get", None)
        # The rule only lets through the methods this class lists, so a missing handler is a class bug.
        if handler is None:
            raise AssertionError(f"unimplemented method {request.method!r} on {type(self).__name__}")
        return current_app.ensure_sync(handler)(**kwargs)
