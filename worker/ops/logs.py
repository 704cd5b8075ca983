"""Logging setup for every ehpc-bridge process: plain lines or JSON lines, secrets masked either way.

``EHPC_LOG_FORMAT=json`` gives one JSON object per line (for Loki, CloudWatch, SLS…); ``plain`` (the default;
any other value too) gives plain text. ``EHPC_LOG_LEVEL`` sets the level (default ``INFO``). Context travels
as ``extra=``::

    log.info("posted", extra={"cluster": cluster_id, "task_id": task_id, "fingerprint": fp})

and appears as fields (JSON) or ``key=value`` suffixes (plain). :class:`SecretMask` sits on the handler, so
it sees every record, whichever logger emitted it (Celery's, urllib3's, slack-sdk's…), and masks every
configured secret in the message, the arguments, the traceback and the context fields.

The vendor SDKs' own loggers (:data:`SDK_LOGGERS`) are quiet unless ``EHPC_LOG_LEVEL=debug``: every
failure of theirs reaches our code as an exception, which is translated and reported once, so their own
lines (``alibabacloud_credentials`` logs a full traceback for each provider of its chain that fails) only
repeat it. They also attach their own stderr handlers at import, which would bypass :class:`SecretMask`;
:func:`quiet_sdk_loggers` removes those, so in debug their records go through the masked root handler.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import urlsplit

from integrations.redaction import RedactingFilter

__all__ = [
    "CONTEXT_FIELDS",
    "JSON_FORMAT",
    "LOG_FORMATS",
    "MASK",
    "PLAIN_FORMAT",
    "SDK_LOGGERS",
    "JsonFormatter",
    "PlainFormatter",
    "SecretMask",
    "configure_logging",
    "quiet_sdk_loggers",
]

PLAIN_FORMAT = "plain"
JSON_FORMAT = "json"
LOG_FORMATS = (PLAIN_FORMAT, JSON_FORMAT)
"""The values of ``EHPC_LOG_FORMAT``, default first; the README and docs/deployment.md use these names."""
CONTEXT_FIELDS = ("cluster", "task_id", "fingerprint", "target")
# Alibaba Cloud's credentials chain ("credentials", and the scheduler its ECS RAM role provider refreshes
# with), Tea and darabonba; slack-sdk's Web API client; urllib3.
SDK_LOGGERS = (
    "credentials",
    "apscheduler",
    "alibabacloud-tea",
    "alibabacloud_credentials",
    "darabonba",
    "slack_sdk",
    "urllib3",
)
MASK = "***"
# Shorter values would mask ordinary words and digits; a real token or key is far longer.
_MIN_SECRET_LENGTH = 4


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in CONTEXT_FIELDS if getattr(record, name, None) is not None}


class SecretMask(RedactingFilter):
    """Replace every configured secret value with ``***`` before the record is formatted."""

    def __init__(self, *, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)
        super().__init__(self.mask, key="secrets", fields=CONTEXT_FIELDS)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


class PlainFormatter(logging.Formatter):
    """``2026-11-26T23:00:00.123+00:00 INFO worker.deliver.delivery sent cluster=… task_id=…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC, ISO 8601 with milliseconds, whatever the host's timezone."""
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The base line plus ``key=value`` for each context field given."""
        line = super().formatMessage(record)
        fields = " ".join(f"{name}={value}" for name, value in _context(record).items())
        return f"{line} {fields}" if fields else line


class JsonFormatter(PlainFormatter):
    """One JSON object per line: ts, level, logger, message, the context fields, and exc when any."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; non-JSON context values are written with ``str()``."""
        message = record.getMessage()
        entry: dict[str, object] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            **_context(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def _secrets_from_settings() -> tuple[str, ...]:
    """Secrets of the settings, the Redis URL's password, and every configured target's secrets."""
    from worker.config.clusters import load_bridge_config
    from worker.config.settings import Settings

    settings = Settings()
    password = urlsplit(settings.redis_url).password
    targets = load_bridge_config(settings).targets
    target_secrets = [secret for target in targets for secret in target.secret_values()]
    return (*settings.secret_values, *([password] if password else []), *target_secrets)


def quiet_sdk_loggers(*, level: str | None = None) -> None:
    """Silence the SDKs' loggers unless ``level`` (default ``EHPC_LOG_LEVEL``) is debug; drop their handlers.

    Call it after the SDKs are imported (it imports the credentials client itself), since their modules
    set their loggers' level and add a handler as they load.
    """
    import integrations.ehpc.client  # noqa: F401 - loads the SDK, whose modules configure "credentials"

    debug = (level or os.environ.get("EHPC_LOG_LEVEL") or "").strip().lower() == "debug"
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        for handler in logger.handlers[:]:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)


def configure_logging(
    *,
    json_lines: bool | None = None,
    level: str | None = None,
    secrets: Iterable[str] | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install the process's one root handler (replacing any) and return it.

    Each argument left ``None`` comes from the environment: ``EHPC_LOG_FORMAT`` (:data:`LOG_FORMATS`),
    ``EHPC_LOG_LEVEL`` (default ``INFO``), and the secrets that :class:`worker.config.settings.Settings` knows
    plus the Redis URL's password and the configured targets' secrets.
    """
    if json_lines is None:
        json_lines = os.environ.get("EHPC_LOG_FORMAT", "").strip().lower() == JSON_FORMAT
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    handler.addFilter(SecretMask(secrets=_secrets_from_settings() if secrets is None else secrets))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("EHPC_LOG_LEVEL") or "INFO").upper())
    quiet_sdk_loggers(level=level)
    return handler
