"""The signature check stands on public APIs only (its behaviour is tested over HTTP in test_app.py)."""

from __future__ import annotations

from slack_bolt.middleware import Middleware
from slack_bolt.middleware.request_verification import RequestVerification

from worker.slack_app.signature import SignatureCheck


def test_the_signature_check_overrides_no_private_bolt_method() -> None:
    assert issubclass(SignatureCheck, Middleware)
    assert not issubclass(SignatureCheck, RequestVerification)
    private = {
        name
        for name in vars(SignatureCheck)
        if name.startswith("_") and not name.startswith("__") and name != "_abc_impl"
    }
    assert private == set()  # no private hook of bolt's is replaced
