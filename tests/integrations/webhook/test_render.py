"""The webhook's v1 document and signature, checked without HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json

from integrations.base import TransitionKind
from integrations.webhook.render import SCHEMA, encode_body, render_body, signature_header
from tests.fixtures.transitions import make_transition


def test_document_follows_the_v1_schema() -> None:
    document = render_body(make_transition(kind=TransitionKind.FINISHED, status="Fail"))
    assert document["schema"] == SCHEMA == "ehpc-bridge.transition/v1"
    assert set(document) == {
        "schema", "fingerprint", "task_key", "kind", "sequence", "first_seen", "observed_at", "previous_step",
        "cluster", "task",
    }  # fmt: skip
    assert document["cluster"] == {"id": "ehpc-hz-prod01", "name": "prod", "labels": {"env": "prod"}}
    assert document["task"]["status"] == "Fail"
    assert document["task"]["errors"] == [
        {"code": "NodeFailed", "message": "compute0 did not boot", "instance_id": "i-0001"}
    ]
    assert document["observed_at"] == "2026-11-26T09:12:00+00:00"


def test_task_request_parameters_are_never_sent() -> None:
    body = encode_body(render_body(make_transition()))
    assert b"do-not-leak" not in body
    assert b"Password" not in body


def test_body_is_compact_sorted_json() -> None:
    document = render_body(make_transition())
    assert encode_body(document) == json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert signature_header(body, secret="s3cret", timestamp=1700000000) == f"t=1700000000,v1={expected}"
