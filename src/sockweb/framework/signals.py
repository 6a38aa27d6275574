"""Signals on blinker: the ten Flask signals, under the same names, sent with the App as sender.

Strategy: the signals live in one :class:`blinker.Namespace`. Sending is never free (it builds the
keyword arguments and walks the receivers), so every place in the framework that sends one first tests
``signal.receivers`` — an empty dict when nobody is connected — and the request path pays one attribute
read per signal. Receivers connect with ``signal.connect(func, app)`` to hear one App only.

==============================  ==========================================  ===========================
signal                          sent when                                   keyword arguments
==============================  ==========================================  ===========================
``request_started``             before the before_request hooks             -
``request_finished``            after the after_request hooks               ``response``
``got_request_exception``       an exception no handler answered            ``exception``
``request_tearing_down``        at the end of the request's teardown        ``exc``
``appcontext_pushed``           an application context became active        -
``appcontext_tearing_down``     at the end of the app context's teardown    ``exc``
``appcontext_popped``           an application context was deactivated      -
``before_render_template``      before a template renders                   ``template``, ``context``
``template_rendered``           after a template rendered                   ``template``, ``context``
``message_flashed``             :func:`~sockweb.framework.helpers.flash`    ``message``, ``category``
==============================  ==========================================  ===========================
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

template_rendered = _signals.signal("template-rendered")
before_render_template = _signals.signal("before-render-template")
request_started = _signals.signal("request-started")
request_finished = _signals.signal("request-finished")
request_tearing_down = _signals.signal("request-tearing-down")
got_request_exception = _signals.signal("got-request-exception")
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
appcontext_pushed = _signals.signal("appcontext-pushed")
appcontext_popped = _signals.signal("appcontext-popped")
message_flashed = _signals.signal("message-flashed")

__all__ = [
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_request_exception",
    "message_flashed",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "template_rendered",
]
