"""``ehpc-bridge demo``: the whole product on one machine, against the built-in E-HPC simulator.

It starts the simulator (realtime, a few clusters doing create / add nodes / a partial failure / a stop,
one of them an E-HPC 2.0 cluster served by the 2024 API and found by ``EHPC_API=auto``),
a Slack stand-in that draws every message on a live web page (http://127.0.0.1:8070/, or a free port when
that one is taken) and prints it in the terminal (or the real Slack when ``SLACK_BOT_TOKEN`` and
``SLACK_CHANNEL`` are set), and a real Celery worker and beat as child processes, all sharing the Redis at
``REDIS_URL`` under the key prefix ``ehpc-demo`` (``EHPC_DEMO_PREFIX`` overrides it; the demo deletes
that prefix's keys when it starts, so a run begins from a fresh baseline). Ctrl-C (or ``--duration``)
stops everything.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import redis

from integrations.ehpc.simulator import SimulatorServer
from integrations.ehpc.simulator.scenario import default_scenario
from integrations.ehpc.simulator.service import Simulator
from integrations.slack.standin import SlackStandIn
from integrations.slack.standin.cli import DEFAULT_PORT
from worker.config.settings import Settings

__all__ = ["run_demo"]

DEMO_PREFIX = "ehpc-demo"
DEMO_CHANNEL = "ehpc-demo"
DEMO_ACCESS_KEY_ID = "demoAccessKeyId"


def run_demo(*, duration: float | None, speed: float) -> int:
    """Run the demo until Ctrl-C or ``duration`` seconds; returns the exit status."""
    settings = Settings()
    if not _redis_answers(settings.redis_url):
        print(
            f"No Redis answers at {settings.redis_url}. Start one with:\n"
            '  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n'
            "or point REDIS_URL at yours, then run the demo again.",
            file=sys.stderr,
        )
        return 1
    prefix = os.environ.get("EHPC_DEMO_PREFIX") or DEMO_PREFIX
    _forget_previous_run(settings.redis_url, prefix=prefix)
    secret = secrets.token_urlsafe(24)
    simulator = SimulatorServer(
        simulator=Simulator(scenario=default_scenario(), realtime=True, speed=speed),
        access_key_id=DEMO_ACCESS_KEY_ID,
        access_key_secret=secret,
    )
    with simulator, _slack(settings) as slack_env, tempfile.TemporaryDirectory(prefix="ehpc-demo-") as logs:
        clusters = simulator.simulator.cluster_ids
        env = {
            **os.environ,
            **slack_env,
            "EHPC_REDIS_PREFIX": prefix,
            "EHPC_CLUSTERS": ",".join(clusters),
            "EHPC_API": "auto",  # the 2.0 cluster is found by asking the 2024 API, as a user's would be
            "EHPC_ENDPOINT": simulator.endpoint,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "EHPC_POLL_INTERVAL": "3",
            "EHPC_SLACK_EDIT_INTERVAL": "2",
            "EHPC_METRICS_PORT": "0",
        }
        env.pop("EHPC_CONFIG", None)
        print(f"E-HPC simulator on {simulator.endpoint} (x{speed:g} speed), clusters: {', '.join(clusters)}")
        print(f"worker and beat logs: {logs}   — Ctrl-C stops the demo\n", flush=True)
        with _children(env, Path(logs)):
            _wait(duration)
    print("\ndemo stopped.")
    return 0


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _forget_previous_run(url: str, *, prefix: str) -> None:
    """The demo owns its prefix: a new run starts from an empty state (and a fresh baseline)."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


@contextmanager
def _slack(settings: Settings) -> Iterator[dict[str, str]]:
    """The real Slack when a token is set, else a stand-in drawing each message on its page and here."""
    if settings.slack_bot_token is not None:
        if not settings.slack_channel:
            raise SystemExit("SLACK_BOT_TOKEN is set: set SLACK_CHANNEL to the channel the demo may post in")
        print(f"posting to Slack channel {settings.slack_channel}")
        yield {}
        return
    try:
        standin = SlackStandIn(port=DEFAULT_PORT, printer=_print_message).start()
    except OSError:  # another demo or stand-in holds the port: any free one will do
        standin = SlackStandIn(printer=_print_message).start()
    try:
        print(f"Slack stand-in: watch the messages live at {standin.page_url}")
        print(f"  (its Web API is {standin.base_url}; set SLACK_BOT_TOKEN and SLACK_CHANNEL for real Slack)")
        yield {
            "SLACK_BOT_TOKEN": "xoxb-demo-standin",
            "SLACK_CHANNEL": DEMO_CHANNEL,
            "SLACK_API_URL": standin.base_url,
        }
    finally:
        standin.stop()


def _print_message(text: str) -> None:
    """One message as two or three terminal lines: header, then its fields joined (labels dropped)."""
    header, *lines = text.splitlines()
    fields = [line.strip() for line in lines if line.strip() and not _is_label(line.strip())]
    print(header.strip(), flush=True)
    print("   " + " · ".join(fields[:6]), flush=True)
    if len(fields) > 6:
        print("   " + " · ".join(fields[6:12]) + (" …" if len(fields) > 12 else ""), flush=True)


def _is_label(line: str) -> bool:
    """Block Kit field titles like ``*Status*`` carry no news of their own."""
    return line.startswith("*") and line.endswith("*") and line.count("*") == 2


@contextmanager
def _children(env: dict[str, str], logs: Path) -> Iterator[None]:
    commands = {"worker": ["worker", "--concurrency", "4"], "beat": ["beat"]}
    processes = []
    for name, args in commands.items():
        log = (logs / f"{name}.log").open("wb")
        processes.append(
            subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
                [sys.executable, "-m", "worker.ops.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait(duration: float | None) -> None:
    """Block until Ctrl-C / SIGTERM, or ``duration`` seconds."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait(duration)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
