from __future__ import annotations

import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from django.utils.functional import SimpleLazyObject

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")

django_application = get_wsgi_application()

# Imported once Django is set up: a plain GET of a read is served in front of Django's cycle.
from aggregation.api.reads import LeanReads  # noqa: E402

application = LeanReads(django_application)

# Its threads take turns on Python's lock at this interval (pricehub/tunables.py says why).
sys.setswitchinterval(settings.PRICEHUB_WEB_SWITCH_INTERVAL_SECONDS)

# What django.utils.regex_helper._lazy_re_compile gives its proxies to make their pattern.
_LAZY = "_lazy_re_compile.<locals>._compile"


def compile_lazy_patterns() -> None:
    """Put in place of each regular expression that Django compiles lazily, in the modules
    loaded, the compiled pattern: each use of its proxy costs about 1.5 us (LazyObject's
    lookup raises and catches an AttributeError), and a read's middleware uses five (the ETag
    and Cache-Control parsing of ConditionalGetMiddleware, the Host check), about a tenth of
    its CPU (docs/benchmarks.md)."""
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if type(value) is SimpleLazyObject and value._setupfunc.__qualname__ == _LAZY:
                setattr(module, name, value._setupfunc())


# The views are imported now rather than by the first request, and the patterns of what they
# loaded compiled; then all that is loaded is left out of the collector's full passes: each of
# those scanned about 160,000 objects and held a busy worker's every thread for 75-95 ms
# (docs/benchmarks.md).
get_resolver().url_patterns  # noqa: B018
compile_lazy_patterns()
gc.freeze()
