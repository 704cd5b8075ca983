"""``scripts/bootstrap.sh`` (run by the demo and the tests) prints its steps, never pip's own noise.

The script runs in a copy of the project skeleton whose ``.venv/bin/python`` is a stand-in that talks
like pip on this machine (warnings about ignored package locations, setuptools' notes) and succeeds or
fails on demand: what reaches the terminal is what a first ``scripts/demo.sh`` shows.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.deploy.compose import ROOT

FAKE_PIP = """#!/usr/bin/env bash
echo "WARNING: Location 'file:///opt/pypi-more/simple/pip/' is ignored: it is neither a file nor a directory."
echo "  BuildBackendWarning: Editable installation." >&2
case "$*" in *"--upgrade pip"*) exit 0 ;; esac  # the pip upgrade succeeds; the installs may not
if [ -n "${FAIL_PIP:-}" ]; then
  echo "ERROR: No matching distribution found for nothing==0" >&2
  exit 1
fi
"""


def _skeleton(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    shutil.copy2(ROOT / "requirements.lock", tmp_path / "requirements.lock")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PIP)
    python.chmod(0o755)
    return tmp_path


def _bootstrap(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(project / "scripts" / "bootstrap.sh")],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_install_prints_its_steps_only_and_then_nothing(tmp_path: Path) -> None:
    project = _skeleton(tmp_path)

    first = _bootstrap(project)
    again = _bootstrap(project)

    assert first.returncode == 0
    assert first.stdout == ""
    assert first.stderr.splitlines() == [
        "==> installing dependencies (pinned in requirements.lock; pip's output: .venv/install.log)"
    ]
    assert "is ignored" in (project / ".venv" / "install.log").read_text()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_a_failed_install_shows_pips_own_words(tmp_path: Path) -> None:
    result = _bootstrap(_skeleton(tmp_path), FAIL_PIP="1")

    assert result.returncode == 1
    assert "No matching distribution found for nothing==0" in result.stderr
    assert not (tmp_path / ".venv" / ".installed").exists()
