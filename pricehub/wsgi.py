from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")

django_application = get_wsgi_application()

# Imported once Django is set up: a plain GET of a read is served in front of Django's cycle.
from aggregation.api.reads import LeanReads  # noqa: E402

application = LeanReads(django_application)
