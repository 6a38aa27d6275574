"""sockweb.net: socket tools (TCP and UDP timestamped echo servers and clients)."""
