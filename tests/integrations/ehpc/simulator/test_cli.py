"""``run_simulator_cli`` in its own process: it prints where it listens, serves, and stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from alibabacloud_ehpc20180412.client import Client
from alibabacloud_ehpc20180412.models import ListTasksRequest
from alibabacloud_tea_openapi.utils_models import Config

from integrations.ehpc.simulator import run_simulator_cli

ROOT = Path(__file__).resolve().parents[4]


def test_cli_serves_the_default_scenario_until_sigterm() -> None:
    code = "import sys, integrations.ehpc.simulator as s; sys.exit(s.run_simulator_cli())"
    flags = ["--port", "0", "--speed", "10", "--access-key-id", "cliId", "--access-key-secret", "cliSecret"]
    with subprocess.Popen(
        [sys.executable, "-c", code, *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            listening = process.stdout.readline()
            clusters = process.stdout.readline()
            endpoint = listening.rsplit(" ", 1)[-1].strip()
            client = Client(
                Config(
                    access_key_id="cliId",
                    access_key_secret="cliSecret",
                    endpoint=endpoint.removeprefix("http://"),
                    protocol="http",
                )
            )
            first_cluster = clusters.split()[1]
            response = client.list_tasks(ListTasksRequest(cluster_id=first_cluster, archived=True))
        finally:
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=10)

    assert listening.startswith("E-HPC simulator listening on http://127.0.0.1:")
    assert clusters.split() == [
        "clusters:",
        "ehpc-hz-demo0001",
        "ehpc-hz-demo0002",
        "ehpc-hz-demo0003",
        "ehpc-hz-demo0004",
    ]
    assert response.body.total_count >= 3
    assert status == 0


@pytest.mark.parametrize("content", [None, "clusters: [{id: x, colour: blue}]", "clusters: [unclosed"])
def test_cli_refuses_a_bad_scenario_file(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "scenario.yaml"
    if content is not None:
        path.write_text(content)

    with pytest.raises(SystemExit) as caught:
        run_simulator_cli(["--scenario", str(path), "--access-key-id", "a", "--access-key-secret", "b"])

    assert caught.value.code == 2
