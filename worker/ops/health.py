"""A tiny HTTP server per process: ``/metrics`` for Prometheus and ``/healthz`` for Docker and orchestrators.

It runs on a daemon thread beside the Celery worker, beat or the Slack app, so the container's
``HEALTHCHECK`` and Prometheus see the process itself, not a sidecar.

* ``GET /metrics`` — the default prometheus-client registry (see :mod:`worker.ops.metrics`), plus
  ``ehpc_bridge_queue_depth`` when the server was given queues.
* ``GET /healthz`` — 200 ``{"status": "ok", ...}`` when Redis (state) and the broker both answer PING,
  503 with the failing check's reason otherwise. Reasons never contain a URL's password.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

import redis
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from worker.ops.metrics import QueueDepthCollector

__all__ = ["Server", "serve_health"]

_TIMEOUT = 2.0


class _Check:
    """PING one Redis URL; describe a failure without its password."""

    def __init__(self, *, url: str) -> None:
        self._password = urlsplit(url).password
        self.client = redis.Redis.from_url(url, socket_connect_timeout=_TIMEOUT, socket_timeout=_TIMEOUT)

    def run(self) -> str | None:
        """``None`` when PING answered, else a one-line reason."""
        try:
            self.client.ping()
        except (redis.RedisError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return reason.replace(self._password, "***") if self._password else reason
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], *, checks: dict[str, _Check], extra: CollectorRegistry
    ) -> None:
        super().__init__(address, _Handler)
        self.checks = checks
        self.extra = extra


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            metrics = generate_latest(REGISTRY) + generate_latest(self.server.extra)
            self._reply(200, CONTENT_TYPE_LATEST, metrics)
        elif path == "/healthz":
            results = {name: check.run() for name, check in self.server.checks.items()}
            failed = {name: reason for name, reason in results.items() if reason is not None}
            body: dict[str, object] = {"status": "unavailable" if failed else "ok"}
            body["checks"] = {name: reason or "ok" for name, reason in results.items()}
            if failed:
                body["reason"] = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
            self._reply(503 if failed else 200, "application/json", json.dumps(body).encode())
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a scrape every 15 s is not an event worth a log line."""


class Server:
    """A running health server; :meth:`close` (or leaving a ``with`` block) stops it."""

    def __init__(self, httpd: _HTTPServer) -> None:
        self._httpd = httpd
        # A short poll interval keeps close() quick; ten wake-ups a second cost nothing measurable.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="ehpc-health", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The bound port (useful when started with ``port=0``)."""
        return int(self._httpd.server_address[1])

    def close(self) -> None:
        """Stop serving, release the port and the Redis connections."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        for check in self._httpd.checks.values():
            check.client.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def serve_health(
    *,
    port: int,
    redis_url: str,
    broker_url: str,
    host: str = "",
    queues: Sequence[str] = (),
    queue_key_prefix: str = "",
) -> Server:
    """Serve ``/metrics`` and ``/healthz`` on ``host:port`` from a daemon thread, and return at once.

    ``host`` defaults to every interface so Prometheus in another container can scrape; ``port=0`` picks
    a free port. ``queues`` adds ``ehpc_bridge_queue_depth`` read from the broker (``queue_key_prefix`` =
    the broker's ``global_keyprefix``); give it to one process type only (beat) to avoid duplicate series.
    """
    checks = {"redis": _Check(url=redis_url), "broker": _Check(url=broker_url)}
    extra = CollectorRegistry()
    if queues:
        extra.register(
            QueueDepthCollector(client=checks["broker"].client, queues=queues, key_prefix=queue_key_prefix)
        )
    return Server(_HTTPServer((host, port), checks=checks, extra=extra))
