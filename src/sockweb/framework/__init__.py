"""sockweb.framework: the Flask-style App on the toolkit."""
