"""Logging setup: JSON lines with context fields, plain lines, and secrets masked wherever they hide."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.ops.logs import LOG_FORMATS, configure_logging

TOKEN = "xoxb-1234-abcd-secret-token"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """configure_logging replaces the root handlers (pytest's own among them): put them back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_json_line_carries_context_and_masks_the_secret_everywhere() -> None:
    out = io.StringIO()
    configure_logging(json_lines=True, level="debug", secrets=[TOKEN, "abc"], stream=out)
    log = logging.getLogger("ehpc.test")
    try:
        raise RuntimeError(f"Slack refused token {TOKEN}")
    except RuntimeError:
        log.exception(
            "posting with %s failed",
            TOKEN,
            extra={"cluster": "ehpc-hz-1", "task_id": "T-1", "fingerprint": f"fp-{TOKEN}", "other": 1},
        )

    line = out.getvalue()
    entry = json.loads(line)
    assert line.count("\n") == 1
    assert TOKEN not in line
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "ehpc.test"
    assert entry["message"] == "posting with *** failed"
    assert (entry["cluster"], entry["task_id"], entry["fingerprint"]) == ("ehpc-hz-1", "T-1", "fp-***")
    assert "RuntimeError: Slack refused token ***" in entry["exc"]
    assert "other" not in entry
    assert entry["ts"].endswith("+00:00")


@pytest.mark.usefixtures("restore_root_logger")
def test_plain_line_appends_context_and_short_values_are_not_masked() -> None:
    out = io.StringIO()
    configure_logging(json_lines=False, level="INFO", secrets=[TOKEN, "abc"], stream=out)
    logging.getLogger("ehpc.test").info("abc %s", TOKEN, extra={"cluster": "c1", "task_id": "T-2"})
    logging.getLogger("ehpc.test").debug("below the level")

    line = out.getvalue().rstrip("\n")
    assert line.endswith(" INFO ehpc.test abc *** cluster=c1 task_id=T-2")
    assert "below the level" not in out.getvalue()


@pytest.mark.usefixtures("restore_root_logger")
def test_environment_chooses_json_and_settings_supply_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHPC_LOG_FORMAT", "json")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("REDIS_URL", "redis://:redis-password@127.0.0.1:6379/0")
    out = io.StringIO()
    configure_logging(stream=out)
    logging.getLogger("ehpc.test").warning("connecting with %s to %s", TOKEN, "redis-password")
    assert json.loads(out.getvalue())["message"] == "connecting with *** to ***"


@pytest.mark.usefixtures("restore_root_logger")
@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("debug", True)])
def test_the_sdks_own_loggers_speak_only_in_debug_and_through_the_masked_handler(
    level: str, shown: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    stream = io.StringIO()
    configure_logging(json_lines=False, level=level, secrets=[TOKEN], stream=stream)
    credentials = logging.getLogger("credentials")  # alibabacloud_credentials' logger, with its own handlers

    try:
        raise RuntimeError(f"metadata service said 404 for {TOKEN}")
    except RuntimeError as error:
        credentials.exception(error)

    assert credentials.handlers == []
    assert capfd.readouterr().err == ""  # nothing bypassed our handler
    assert ("metadata service said 404" in stream.getvalue()) is shown
    assert TOKEN not in stream.getvalue()


def test_the_documented_log_format_names_are_the_ones_the_code_reads() -> None:
    root = Path(__file__).resolve().parents[3]
    documented = {
        match
        for doc in ("README.md", "docs/deployment.md")
        for match in re.findall(r"EHPC_LOG_FORMAT(?:` \| `|=)(\w+)", (root / doc).read_text(encoding="utf-8"))
    }
    assert documented == set(LOG_FORMATS)
