"""The edge's own settings (pricehub/settings.py imports them all): the admin login's lockout
(django-axes) and the pages' Content-Security-Policy (django-csp).

Each environment variable read here is listed in the configuration table of docs/operations.md.
"""

from __future__ import annotations

from datetime import timedelta

import environ
from csp.constants import NONE, SELF

env = environ.Env()

# The admin's login is PriceHub's only password form (API tokens are keys, never guessed
# through it): after ADMIN_LOGIN_FAILURES failures in a row of one username from one client (an
# IPv4 address, an IPv6 /64, as the throttles know it), that pair is locked out for
# ADMIN_LOCKOUT_MINUTES, a right password included. The attempts are kept in the database (the
# admin's Axes lists), which every web process shares.
AXES_ONLY_ADMIN_SITE = True
# django-axes counts the admin login's failures before Django checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("ADMIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "pricehub.edge.client_address"
AXES_LOCKOUT_CALLABLE = "pricehub.edge.locked_out"
# Failures and lockouts are logged as warnings; no start-up banner in every process's log.
AXES_VERBOSE = False

# Pages load nothing but PriceHub's own files: the dashboard's and the admin's scripts and
# styles are static files, none inline. The dashboard's icon is an empty data: URL, so the
# browser asks for no other. Swagger UI's page (/api/docs/) adds its one inline style block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
