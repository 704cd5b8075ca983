"""``ehpc-bridge slack-app``: check the settings, then serve over HTTP (gunicorn) or Socket Mode."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from worker.config.settings import Settings
from worker.hints.endpoint import EVENTBRIDGE_PATH
from worker.ops.processes import SLACK_APP_METRICS_PORT, start_health
from worker.slack_app.access import AccessSetupError, access_policy
from worker.slack_app.app import EVENTS_PATH, app_from_settings, socket_mode_handler, startup_problem
from worker.slack_app.server import Gunicorn, PathDispatcher, health_in_first_worker

__all__ = ["run_slack_app"]

log = logging.getLogger(__name__)


def run_slack_app(argv: Sequence[str]) -> int:
    """``ehpc-bridge slack-app [--host H] [--port P] [--workers N] [--threads N]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="ehpc-bridge slack-app", description="Serve /ehpc and its buttons.")
    parser.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to bind (default 0.0.0.0)")  # noqa: S104
    parser.add_argument("--port", type=int, default=3000, help="HTTP mode: port (default 3000)")
    parser.add_argument("--workers", type=int, default=1, help="HTTP mode: gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="HTTP mode: threads per worker")
    args = parser.parse_args(list(argv))

    from worker.config.models import ConfigError
    from worker.ops.logs import configure_logging
    from worker.runtime import Runtime

    settings = Settings()
    problem = startup_problem(settings)
    if problem is None:
        try:
            access_policy(Runtime.from_settings(settings))  # a bad config or a channel-less cluster: stop now
        except (ConfigError, AccessSetupError) as error:
            problem = str(error).strip("'")
    if problem is not None:
        print(f"ehpc-bridge slack-app: {problem}", file=sys.stderr)
        return 2
    configure_logging()
    if settings.slack_app_token is not None:
        log.info("connecting to Slack in Socket Mode")
        start_health(SLACK_APP_METRICS_PORT)
        app_token = settings.slack_app_token.get_secret_value()
        handler = socket_mode_handler(app_from_settings(settings), app_token=app_token)
        handler.start()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        return 0
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        # /metrics must be served where the counters live: the one worker process (several: the first)
        "post_worker_init": health_in_first_worker,
    }
    log.info("serving POST %s and POST %s on %s:%d", EVENTS_PATH, EVENTBRIDGE_PATH, args.host, args.port)
    if settings.eventbridge_token is None:
        log.warning("EHPC_EVENTBRIDGE_TOKEN is not set: POST %s refuses every event (401)", EVENTBRIDGE_PATH)

    def load() -> PathDispatcher:
        from worker.hints.endpoint import endpoint_from_runtime
        from worker.runtime import Runtime

        slack = SlackRequestHandler(app_from_settings(settings), path=EVENTS_PATH)
        eventbridge = endpoint_from_runtime(Runtime.from_settings(settings))
        return PathDispatcher(routes={EVENTBRIDGE_PATH: eventbridge}, default=slack)

    Gunicorn(load, options).run()
    return 0
