"""sockweb.web: the WSGI toolkit (Request, Response, routing, static files, test client)."""
