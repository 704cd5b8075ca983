"""The one log-redaction filter: a record's text rewritten before any handler formats it.

:class:`RedactingFilter` renders the message (arguments included), the traceback, the stack and the given
context fields, and passes each through one ``rewrite`` function; what differs between its users is only
that function: the process's known secrets (:class:`worker.ops.logs.SecretMask`), credential-shaped values
below E-HPC's SDK (:func:`integrations.ehpc.scrub.redact_http_logs`), URLs in urllib3's request lines
(:func:`integrations.http.new_session`). :func:`install` puts one on a logger, once per ``key``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence

__all__ = ["RedactingFilter", "install"]


class RedactingFilter(logging.Filter):
    """Rewrites every text of a record through ``rewrite``; ``key`` tells one installation from another."""

    def __init__(self, rewrite: Callable[[str], str], *, key: str, fields: Sequence[str] = ()) -> None:
        super().__init__()
        self.rewrite = rewrite
        self.key = key
        self._fields = tuple(fields)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render and rewrite the message (and traceback, stack, context fields) now; never drops one."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} (arguments did not fit the format)"
        record.msg, record.args = self.rewrite(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.rewrite(record.exc_text)
        if record.stack_info:
            record.stack_info = self.rewrite(record.stack_info)
        for name in self._fields:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.rewrite(value))
        return True


def install(logger_name: str, rewrite: Callable[[str], str], *, key: str) -> None:
    """Put a :class:`RedactingFilter` with ``rewrite`` on ``logger_name`` unless one with ``key`` is there."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) and f.key == key for f in logger.filters):
        logger.addFilter(RedactingFilter(rewrite, key=key))
