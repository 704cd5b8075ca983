"""Secret scrubbing: known secrets in every encoding, credential-shaped values, and the HTTP stack's logs."""

from __future__ import annotations

import logging

from integrations.ehpc.scrub import MASK, masks, redact_http_logs, scrub
from integrations.redaction import RedactingFilter


def test_a_known_secret_is_masked_raw_and_percent_encoded_once_and_twice() -> None:
    secret = "a/b+c=d"
    text = f"raw {secret} once a%2Fb%2Bc%3Dd twice a%252Fb%252Bc%253Dd"
    assert scrub(text, masks([secret])) == f"raw {MASK} once {MASK} twice {MASK}"


def test_credential_shaped_values_are_masked_without_knowing_them() -> None:
    text = "GET /?SecurityToken=abc&Action=ListTasks x-acs-security-token: xyz"
    assert scrub(text, ()) == f"GET /?SecurityToken={MASK}&Action=ListTasks x-acs-security-token:{MASK}"


def test_the_http_stack_logs_are_masked_once_however_often_asked() -> None:
    redact_http_logs()
    redact_http_logs()
    logger = logging.getLogger("urllib3.connectionpool")
    keys = [f.key for f in logger.filters if isinstance(f, RedactingFilter)]
    assert keys.count("ehpc-credentials") == 1
    record = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "GET /?Signature=%s", ("s3",), None)
    assert all(f.filter(record) for f in logger.filters)
    assert "s3" not in record.getMessage()
