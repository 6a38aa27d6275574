"""Start a peer server that has no command line of its own: `run_peer.py NAME MODULE:APP PORT`."""

import importlib
import logging
import sys


def main() -> None:
    name, spec, port_text = sys.argv[1:4]
    module, _, attr = spec.partition(":")
    app = getattr(importlib.import_module(module), attr)
    port = int(port_text)
    if name == "cheroot":
        from cheroot import wsgi

        server = wsgi.Server(("127.0.0.1", port), app)
        print(f"Listening at http://127.0.0.1:{port}", file=sys.stderr, flush=True)
        server.safe_start()
    elif name == "werkzeug":
        from werkzeug.serving import run_simple

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        run_simple("127.0.0.1", port, app, threaded=True)
    elif name == "bjoern":
        import bjoern

        bjoern.run(app, "127.0.0.1", port)
    else:
        raise SystemExit(f"unknown peer {name}")


if __name__ == "__main__":
    main()
