"""sockweb.web.dev: the development server (the real server plus reloader and debugger)."""
