from django.core.wsgi import get_wsgi_application

import django_site  # noqa: F401  (configures settings)

application = get_wsgi_application()
