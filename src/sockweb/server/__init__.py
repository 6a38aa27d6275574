"""sockweb.server: the WSGI (PEP 3333) server on raw sockets, built on sockweb.http."""
