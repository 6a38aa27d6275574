"""The benchmark applications behind a2wsgi, for uvicorn (an ASGI server)."""

import benchapps
from a2wsgi import WSGIMiddleware

hello = WSGIMiddleware(benchapps.hello)
sleep10 = WSGIMiddleware(benchapps.sleep10)
download = WSGIMiddleware(benchapps.download)
upload = WSGIMiddleware(benchapps.upload)
