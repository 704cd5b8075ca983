"""Every service of docker-compose.yml, started on this host as Compose would start it, becomes healthy.

No Docker engine runs here, so each service's ``command`` runs through the image's entrypoint
(``deploy/docker-entrypoint.sh``) with ``.venv/bin`` in front, its environment interpolated from
.env.example, Compose's hostnames mapped to 127.0.0.1 (``redis`` to the test Redis, DB 15, under this test's
key prefix), its ports mapped to free ones, its secrets written to files, and its own compose
``healthcheck`` polled until it passes.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.slack.standin import SlackStandIn
from tests.deploy.compose import ROOT, interpolate, load_compose, read_env_file
from tests.fixtures.environment import REDIS_URL

VENV_BIN = Path(sys.executable).parent
STARTUP_BUDGET = 45.0
# The image's services; redis is the test Redis itself.
SERVICES = (
    "worker-poll",
    "worker-deliver",
    "beat",
    "slack-app",
    "simulator",
    "slack-standin",
    "flower",
)
# Values .env.example leaves empty that a process needs to start (fakes; Slack is the local stand-in).
TEST_ENV = {
    "SLACK_SIGNING_SECRET": "test-signing-secret",
    "SLACK_BOT_TOKEN": "xoxb-test-token",
    "SLACK_CHANNEL": "C0TEST",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class HostService:
    """One compose service rewritten to run on this host."""

    command: list[str]
    env: dict[str, str]
    healthcheck: list[str]


def _host_service(name: str, *, prefix: str, slack_api_url: str, workdir: Path) -> HostService:
    compose = load_compose()
    values = {**read_env_file(), **TEST_ENV, "REDIS_URL": REDIS_URL, "SLACK_API_URL": slack_api_url}
    service: dict[str, Any] = interpolate(compose["services"][name], values)
    ports = {port: str(_free_port()) for port in ("8080", "3000", "5555", "8070")}

    def to_host(text: str) -> str:
        text = re.sub(
            r"://(?:simulator|slack-app|flower|slack-standin):(\d+)",
            lambda m: f"://127.0.0.1:{ports[m[1]]}",
            text,
        )
        text = re.sub(r"\b(8080|3000|5555|8070)\b", lambda m: ports[m[1]], text)
        return text.replace("0.0.0.0", "127.0.0.1").replace("/run/secrets/", f"{workdir}/secrets/")  # noqa: S104

    secrets_dir = workdir / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    for entry in service.get("secrets", []):
        variable = compose["secrets"][entry["source"]]["environment"]
        (secrets_dir / entry["source"]).write_text(values.get(variable, ""), encoding="utf-8")

    env = {key: to_host(str(value)) for key, value in service.get("environment", {}).items()}
    env.update(
        PATH=os.environ["PATH"],
        HOME=str(workdir),
        TMPDIR=str(workdir),
        EHPC_REDIS_PREFIX=prefix,
        EHPC_METRICS_PORT=str(_free_port()),
    )
    command = [to_host(arg) for arg in service["command"]]
    command[0] = str(VENV_BIN / command[0])
    healthcheck = [to_host(arg) for arg in service["healthcheck"]["test"][1:]]
    healthcheck[0] = sys.executable
    return HostService(command=command, env=env, healthcheck=healthcheck)


@dataclass
class Running:
    """A started service: its host form, its process and the file its output goes to."""

    service: HostService
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """The last lines it printed, for failure messages."""
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def started(
    request: pytest.FixtureRequest, redis_prefix: str, slack_standin: SlackStandIn, workdir: Path
) -> Iterator[Running]:
    """The service named by the test's parameter, running until the test ends."""
    host = _host_service(
        request.param, prefix=redis_prefix, slack_api_url=slack_standin.base_url, workdir=workdir
    )
    log = workdir / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sh", str(ROOT / "deploy" / "docker-entrypoint.sh"), *host.command],
            env=host.env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(service=host, process=process, log=log)
    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.slow
@pytest.mark.parametrize("started", SERVICES, indirect=True)
def test_service_becomes_healthy(started: Running) -> None:
    check = started.service.healthcheck
    deadline = time.monotonic() + STARTUP_BUDGET
    while subprocess.run(
        check, env=started.service.env, capture_output=True, timeout=10, check=False
    ).returncode:
        assert started.process.poll() is None, (
            f"exited with {started.process.returncode}:\n{started.output()}"
        )
        assert time.monotonic() < deadline, f"not healthy after {STARTUP_BUDGET:.0f}s:\n{started.output()}"
        # Polling the health endpoint, as Docker does: nothing outside the process signals readiness.
        time.sleep(0.25)
    assert started.process.poll() is None, started.output()
