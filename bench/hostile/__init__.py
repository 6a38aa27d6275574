"""The hostile-client suite: bounded attacks on a WSGI server, each reporting outcome counts.

One module per attack (slowloris, slowread, fuzz, smuggling, faults, fdlimit, devtools), the fixture app
both servers run (apps), and the plumbing to start sockweb or gunicorn and talk raw HTTP (servers, wire).
``run.py`` runs them from the command line; tests/hostile runs the quick versions under pytest. Every
attack takes a running server and a size (quick or full) and returns a :class:`~.wire.Result`; nothing
here asserts, the callers judge the numbers.
"""
