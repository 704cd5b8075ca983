"""gunicorn embedded for the Slack app's HTTP mode (gthread workers, one App built per worker)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from worker.ops.processes import SLACK_APP_METRICS_PORT, start_health

__all__ = ["Gunicorn", "health_in_first_worker"]

log = logging.getLogger(__name__)


def health_in_first_worker(worker: Any) -> None:
    """gunicorn hook: one worker serves /metrics and /healthz; with several, the first to bind the port."""
    try:
        start_health(SLACK_APP_METRICS_PORT)
    except OSError:
        log.info("worker %s: another worker serves /metrics", worker.pid)


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
