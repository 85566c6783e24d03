"""Serve one simulated venue over HTTP: python -m mock_exchange_app binance --port 8081."""

from __future__ import annotations

import argparse
import os
from typing import Any

from gunicorn.app.base import BaseApplication

from mock_exchange_app.market import VENUES
from mock_exchange_app.venues import WSGIApp, create_app


class _Server(BaseApplication):
    """Run a ready-made WSGI app under gunicorn without a config file."""

    def __init__(self, app: WSGIApp, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return self._app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the chosen venue until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m mock_exchange_app")
    parser.add_argument("venue", choices=VENUES)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    url = f"http://{args.host}:{args.port}"

    def announce(_server: object) -> None:
        print(f"{args.venue} venue listening on {url}", flush=True)

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": 16,  # a slow answer holds a thread, as on a real venue: others still get one
        "accesslog": None,
        "loglevel": "warning",
        "when_ready": announce,
        # gunicorn's control socket is one path per user: six venues (and any other gunicorn)
        # would contend for it, and a venue takes no commands.
        "control_socket_disable": True,
    }
    # The fault endpoint lets anyone who reaches the venue break it: only when asked for.
    fault_control = os.environ.get("SIM_FAULTS", "").lower() in {"1", "true", "yes"}
    # The venues' rate limits are on unless lifted for a benchmark of PriceHub's own capacity.
    enforced = os.environ.get("SIM_LIMITS", "true").lower() not in {"0", "false", "no"}
    app = create_app(args.venue, fault_control=fault_control, limits_enforced=enforced)
    _Server(app, options).run()


if __name__ == "__main__":
    main()
