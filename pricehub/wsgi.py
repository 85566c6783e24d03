from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")

django_application = get_wsgi_application()

# Imported once Django is set up: the price reads' fast path, in front of Django.
from aggregation.api.fast_reads import FastReads  # noqa: E402

application = FastReads(django_application)
