"""The stand-in as a service (``python -m integrations.slack.standin``), as the demo profile runs it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from urllib.request import urlopen

from slack_sdk import WebClient


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_the_service_answers_healthz_and_the_api_and_stops_on_sigterm() -> None:
    port = _free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "integrations.slack.standin", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None
        banner = service.stdout.readline()  # printed once the port is bound
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            health = json.load(answer)
        client = WebClient(token="xoxb-service", base_url=f"http://127.0.0.1:{port}/api/")
        posted = client.chat_postMessage(channel="ehpc-demo", text="hello")
        service.send_signal(signal.SIGTERM)
        status = service.wait(timeout=10)
    finally:
        service.kill()
        service.wait()

    assert f"page http://127.0.0.1:{port}/" in banner
    assert health == {"ok": True, "revision": 0}
    assert posted["ok"] is True
    assert status == 0


def test_a_taken_port_is_one_line_naming_the_flag() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "integrations.slack.standin", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"slack-standin: 127.0.0.1:{port} is taken: choose another with --port"
    ]
