"""Real worker and beat processes for the end-to-end scenarios."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from celery import Celery

from tests.fixtures.pipeline import CHANNEL, Stack
from worker.keys import Keys

EHPC_BRIDGE = str(Path(sys.executable).with_name("ehpc-bridge"))


class Processes:
    """Starts ``ehpc-bridge`` subcommands against a :class:`Stack` and stops them all at the end."""

    def __init__(self, stack: Stack, log_dir: Path) -> None:
        self._stack = stack
        self._log_dir = log_dir
        self._running: list[subprocess.Popen[bytes]] = []
        settings = stack.runtime.settings
        self.client = Celery("ehpc-test-client", broker=settings.redis_url)
        prefix = Keys(prefix=settings.redis_prefix).celery_prefix()
        self.client.conf.broker_transport_options = {"global_keyprefix": prefix}

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Run ``ehpc-bridge ARGS`` with the stack's environment (plus ``env``)."""
        log = (self._log_dir / f"{args[0]}-{len(self._running)}.log").open("wb")
        environ = {**os.environ, **self._stack.environment(), **env}
        process = subprocess.Popen([EHPC_BRIDGE, *args], env=environ, stdout=log, stderr=subprocess.STDOUT)
        self._running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL: the worker gets no chance to finish or ack what it holds."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def poll(self, cluster_id: str) -> None:
        """What beat would do: queue one poll of ``cluster_id``."""
        self.client.send_task("ehpc.poll_cluster", args=(cluster_id,), queue="poll")

    def last_poll(self, cluster_id: str) -> datetime | None:
        """When a worker last recorded a poll of ``cluster_id``."""
        [health] = self._stack.runtime.lookup.health([(cluster_id, cluster_id)])
        return health.last_poll

    def poll_and_wait(self, cluster_id: str) -> None:
        """Queue one poll and wait until a worker has recorded it."""
        before = self.last_poll(cluster_id)
        self.poll(cluster_id)
        wait_for(lambda: self.last_poll(cluster_id) != before, why="the poll to be recorded", logs=self)

    def stop_all(self) -> None:
        for process in self._running:
            if process.poll() is None:
                process.terminate()
        for process in self._running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.client.close()

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-3000:] for path in sorted(self._log_dir.glob("*.log"))
        )


@pytest.fixture
def processes(stack: Stack, tmp_path: Path) -> Iterator[Processes]:
    running = Processes(stack, tmp_path)
    yield running
    running.stop_all()


def wait_for(
    condition: Callable[[], bool], *, timeout: float = 60.0, why: str = "", logs: Processes | None = None
) -> None:
    """Check ``condition`` every 50 ms until it holds; fail with ``why`` and the logs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    detail = f"\n--- process logs ---\n{logs.logs()}" if logs else ""
    pytest.fail(f"timed out after {timeout}s waiting for {why}{detail}")


def slack_settled(stack: Stack, *, parents: int) -> bool:
    """``parents`` task messages exist and each has its one final thread reply."""
    messages = stack.slack.messages(CHANNEL)
    return len(messages) == parents and all(len(stack.slack.replies(CHANNEL, m.ts)) == 1 for m in messages)
