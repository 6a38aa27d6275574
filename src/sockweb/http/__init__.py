"""sockweb.http: the HTTP/1.1 protocol, sans-io (bytes in, events out; events in, bytes out)."""
