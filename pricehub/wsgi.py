from __future__ import annotations

import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")

django_application = get_wsgi_application()

# Imported once Django is set up: a plain GET of a read is served in front of Django's cycle.
from aggregation.api.reads import LeanReads  # noqa: E402

application = LeanReads(django_application)

# Its threads take turns on Python's lock at this interval (pricehub/tunables.py says why).
sys.setswitchinterval(settings.PRICEHUB_WEB_SWITCH_INTERVAL_SECONDS)

# The views are imported now rather than by the first request, then all that is loaded is left
# out of the collector's full passes: each of those scanned about 160,000 objects and held a
# busy worker's every thread for 75-95 ms (docs/benchmarks.md).
get_resolver().url_patterns  # noqa: B018
gc.freeze()
