"""The one redaction filter: message, arguments, traceback and context fields rewritten; installed once."""

from __future__ import annotations

import logging

from integrations.redaction import RedactingFilter, install


def test_every_text_of_a_record_is_rewritten() -> None:
    redact = RedactingFilter(lambda text: text.replace("hunter2", "***"), key="test", fields=("target",))
    try:
        raise ValueError("hunter2 in the error")
    except ValueError as error:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "login %s", ("hunter2",), (type(error), error, None)
        )
    record.target = "hunter2-target"

    assert redact.filter(record)
    assert record.getMessage() == "login ***"
    assert record.exc_text is not None
    assert "hunter2" not in record.exc_text
    assert record.target == "***-target"


def test_install_puts_one_filter_per_key_on_a_logger() -> None:
    install("test.redaction", str.upper, key="upper")
    install("test.redaction", str.upper, key="upper")
    install("test.redaction", str.lower, key="lower")
    keys = [f.key for f in logging.getLogger("test.redaction").filters if isinstance(f, RedactingFilter)]
    assert keys == ["upper", "lower"]
