"""The generic webhook's body and signature, as pure functions (the schema is public: keep it stable).

Body (``Content-Type: application/json``, UTF-8, compact, keys sorted), schema ``ehpc-bridge.transition/v1``::

    {"schema": "ehpc-bridge.transition/v1",
     "fingerprint": str,            # one per transition; also the Idempotency-Key header
     "task_key": str,               # one per task
     "kind": "started" | "progressed" | "finished" | "stalled" | "lost",
     "sequence": int,               # 1, 2, 3 … per task, no gaps
     "first_seen": RFC 3339, "observed_at": RFC 3339, "previous_step": int | null,
     "cluster": {"id": str, "name": str, "labels": {str: str}},
     "task": {"id": str, "type": str, "label": str, "status": str, "current_step": int | null,
              "total_steps": int | null, "progress": float | null,
              "instances": [{"instance_id", "hostname", "ip", "role"}],   # values str | null
              "errors": [{"code", "message", "instance_id"}],             # values str | null
              "problems": [str]}}   # what ehpc-bridge found odd in the API's answer

``task.type``/``task.status`` are the API's own spellings. The task's ``Request`` is deliberately left
out: E-HPC echoes creation parameters there, which may include passwords. Additive changes keep ``v1``;
anything else bumps it.

Signature header ``X-Ehpc-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``; a
receiver recomputes it over the raw body and rejects old ``t`` values to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from integrations.base import Transition

__all__ = ["SCHEMA", "encode_body", "render_body", "signature_header"]

SCHEMA = "ehpc-bridge.transition/v1"


def render_body(transition: Transition) -> dict[str, Any]:
    """The ``v1`` document for ``transition``."""
    task = transition.task
    return {
        "schema": SCHEMA,
        "fingerprint": transition.fingerprint,
        "task_key": transition.task_key,
        "kind": transition.kind.value,
        "sequence": transition.sequence,
        "first_seen": _rfc3339(transition.first_seen),
        "observed_at": _rfc3339(transition.observed_at),
        "previous_step": transition.previous_step,
        "cluster": {
            "id": task.cluster_id,
            "name": transition.cluster_name,
            "labels": dict(transition.cluster_labels),
        },
        "task": {
            "id": task.task_id,
            "type": task.type_name,
            "label": task.label,
            "status": task.raw_status or task.status.value,
            "current_step": task.current_step,
            "total_steps": task.total_steps,
            "progress": task.progress,
            "instances": [
                {"instance_id": i.instance_id, "hostname": i.hostname, "ip": i.ip, "role": i.role}
                for i in task.instances
            ],
            "errors": [
                {"code": e.code, "message": e.message, "instance_id": e.instance_id} for e in task.errors
            ],
            "problems": list(task.problems),
        },
    }


def encode_body(document: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature_header(body: bytes, *, secret: str, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _rfc3339(moment: datetime) -> str:
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).isoformat()
