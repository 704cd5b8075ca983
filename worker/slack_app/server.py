"""gunicorn embedded for the Slack app's HTTP mode (gthread workers, one App built per worker).

One server, several WSGI apps by path: ``/slack/events`` (bolt) and ``/eventbridge``
(:mod:`worker.hints.endpoint`) through :class:`PathDispatcher`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from worker.ops.processes import SLACK_APP_METRICS_PORT, start_health

__all__ = ["Gunicorn", "PathDispatcher", "health_in_first_worker"]

log = logging.getLogger(__name__)


def health_in_first_worker(worker: Any) -> None:
    """gunicorn hook: one worker serves /metrics and /healthz; with several, the first to bind the port."""
    try:
        start_health(SLACK_APP_METRICS_PORT)
    except OSError:
        log.info("worker %s: another worker serves /metrics", worker.pid)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PathDispatcher:
    """A WSGI app handing each request to the app of its exact path, the others to ``default``."""

    def __init__(self, *, routes: Mapping[str, WsgiApp], default: WsgiApp) -> None:
        self._routes = dict(routes)
        self._default = default

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self._routes.get(str(environ.get("PATH_INFO", "")), self._default)
        return app(environ, start_response)


class Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn embedded: each worker builds its own App after the fork (no shared sockets or threads)."""

    def __init__(self, load: Callable[[], object], options: Mapping[str, object]) -> None:
        self._load = load
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> object:
        return self._load()
