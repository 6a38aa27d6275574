"""WSGI middleware: each wraps an application and is itself one (``app = ProxyFix(app, x_for=1)``).

Modules: :mod:`.proxy_fix` (trust a known number of proxies' X-Forwarded-* headers), :mod:`.dispatcher`
(mount applications under path prefixes), :mod:`.profiler` (cProfile each request), :mod:`.shared_data`
(serve folders and package data beside an app). The PEP 3333 checker
is :mod:`sockweb.web.lint`. Pure WSGI, like the rest of the toolkit.
"""
