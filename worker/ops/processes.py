"""Long-running process entry points: the Celery worker, beat, and the one-shot ``poll-once``."""

from __future__ import annotations

import errno
from datetime import UTC, datetime

__all__ = [
    "SLACK_APP_METRICS_PORT",
    "StartupError",
    "run_beat",
    "run_poll_once",
    "run_worker",
    "start_health",
]

WORKER_METRICS_PORT = 9808
BEAT_METRICS_PORT = 9809
SLACK_APP_METRICS_PORT = 9810


class StartupError(Exception):
    """A process can't start for a reason its operator fixes; the CLI prints it as one line, no traceback."""


def start_health(default_port: int, *, queue_depth: bool = False) -> None:
    """Serve this process's ``/metrics`` and ``/healthz`` on ``EHPC_METRICS_PORT`` (0 disables).

    ``queue_depth``: also report the Celery queues' lengths (beat does, so they are reported once).
    A port already taken (a second worker on the same host) raises :class:`StartupError` naming the
    variable that gives this process its own port.
    """
    from worker.config.settings import Settings
    from worker.ops.health import serve_health
    from worker.store.keys import Keys

    settings = Settings()
    port = settings.metrics_port if settings.metrics_port is not None else default_port
    if not port:
        return
    queues: tuple[str, ...] = ()
    if queue_depth:  # only beat: importing the Celery app loads the configuration
        from worker.celery_app import DELIVER_QUEUE, POLL_QUEUE

        queues = (POLL_QUEUE, DELIVER_QUEUE)
    try:
        serve_health(
            port=port,
            redis_url=settings.redis_url,
            broker_url=settings.redis_url,
            queues=queues,
            queue_key_prefix=Keys(prefix=settings.redis_prefix).celery_prefix(),
        )
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise StartupError(
            f"port {port} (EHPC_METRICS_PORT, for /metrics and /healthz) is already in use, probably by"
            " another ehpc-bridge process on this host: give each process its own EHPC_METRICS_PORT,"
            " or set EHPC_METRICS_PORT=0 to serve none"
        ) from None


def run_worker(*, queues: str, concurrency: int, extra: list[str]) -> int:
    """Run a Celery worker with a thread pool (I/O-bound work; one process keeps metrics simple)."""
    from worker.celery_app import app
    from worker.ops.logs import configure_logging

    configure_logging()
    start_health(WORKER_METRICS_PORT)
    argv = ["worker", "--queues", queues, "--pool", "threads", "--concurrency", str(concurrency)]
    app.worker_main([*argv, "--loglevel", "INFO", "--without-gossip", "--without-mingle", *extra])
    return 0


def run_beat(*, extra: list[str]) -> int:
    """Run Celery beat; run exactly one per deployment (a second one is harmless but wasteful)."""
    from worker.celery_app import app
    from worker.ops.logs import configure_logging

    configure_logging()
    start_health(BEAT_METRICS_PORT, queue_depth=True)
    app.start(["beat", "--loglevel", "INFO", *extra])
    return 0


def run_poll_once(*, cluster_id: str) -> int:
    """Print the transitions one poll of ``cluster_id`` would announce, against a throwaway state."""
    from worker.config.models import ClusterConfig
    from worker.detect.poll import preview_poll
    from worker.runtime import runtime

    rt = runtime()
    rt.clusters.setdefault(cluster_id, ClusterConfig(id=cluster_id))
    transitions = preview_poll(rt, cluster_id=cluster_id, now=datetime.now(UTC))
    for transition in transitions:
        task = transition.task
        step = f"{task.current_step}/{task.total_steps}" if task.total_steps else "-"
        print(f"{transition.kind.value:<11} {task.task_id}  {task.label:<26} {task.raw_status:<12} {step}")
    print(f"{len(transitions)} transition(s) would be sent for {cluster_id}; nothing was sent.")
    return 0
