"""``ehpc-bridge demo`` as a user runs it: its page fills with the tasks, and so does the terminal."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.request import urlopen

import pytest

from tests.fixtures.environment import REDIS_URL

DEADLINE = 240.0  # seconds for the first task to end at x30 speed; about ten alone, far more on a loaded host
PAGE = re.compile(r"watch the messages live at (http://127\.0\.0\.1:\d+/)")


def _changes(page: str, after: int) -> dict[str, Any]:
    with urlopen(f"{page}page/changes?after={after}&wait=5", timeout=10) as answer:  # noqa: S310 - the demo's
        document: dict[str, Any] = json.load(answer)
    return document


@pytest.mark.slow
def test_the_demo_prints_its_page_and_draws_posts_edits_and_replies_there(redis_prefix: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "EHPC_"))}
    env |= {"REDIS_URL": REDIS_URL, "EHPC_DEMO_PREFIX": redis_prefix}
    demo = subprocess.Popen(
        [sys.executable, "-m", "worker.ops.cli", "demo", "--duration", "300", "--speed", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert demo.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout or []], daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=30)
        page = PAGE.search(first)
        assert page is not None, first
        seen: dict[str, dict[str, Any]] = {}
        after, deadline = 0, time.monotonic() + DEADLINE
        while time.monotonic() < deadline and not _a_task_ended(seen):
            document = _changes(page[1], after)
            after = document["revision"]
            seen |= {change["id"]: change for change in document["changes"]}
        demo.send_signal(signal.SIGINT)
        status = demo.wait(timeout=30)
    finally:
        demo.kill()
        demo.wait()
    reader.join(timeout=5)
    printed = "".join(lines.queue)

    assert _a_task_ended(seen), f"no task ended on the page within {DEADLINE:.0f}s: {list(seen)}"
    assert status == 0
    assert "#ehpc-demo · new" in printed
    assert "#ehpc-demo · reply" in printed
    assert printed.rstrip().endswith("demo stopped.")
    assert "WARNING" not in printed


def _a_task_ended(seen: dict[str, dict[str, Any]]) -> bool:
    """A thread reply arrived under a message that was edited (the task message, updated at its end)."""
    edited = {key for key, change in seen.items() if "(edited)" in change["html"]}
    return any(change["parent"] in edited for change in seen.values())
