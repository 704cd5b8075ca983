"""What an EventBridge delivery says, read leniently: a CloudEvents 1.0 JSON envelope around E-HPC's ``data``.

Only the envelope's ``id``, ``source``, ``type`` and ``subject`` and whatever in ``data`` names a cluster are
read. E-HPC's ``data`` fields are not documented field by field, so nothing there is required: a cluster id
is looked for under any key spelled like ``ClusterId`` (``clusterId``, ``cluster_id`` …, at any depth), then
in the ``subject`` (``acs.ehpc:<region>:<account>:<cluster id>``, or a path ending in it). The event is a
hint, never a fact: its status, time or order are not read at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["EHPC_SOURCE", "EhpcEvent", "MalformedEventError", "parse_event"]

EHPC_SOURCE = "acs.ehpc"
_MAX_DEPTH = 4
_CLUSTER_KEY = re.compile(r"^cluster_?id$", re.IGNORECASE)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class MalformedEventError(ValueError):
    """The body is not an event at all (not JSON, not an object, no ``id``); the message says which."""


@dataclass(frozen=True)
class EhpcEvent:
    """The parts of one delivery the hint uses."""

    event_id: str
    source: str
    type: str
    cluster_ids: tuple[str, ...]  # candidates, most specific first

    @property
    def from_ehpc(self) -> bool:
        """Whether E-HPC published it (source ``acs.ehpc`` or an ``ehpc:`` type)."""
        return self.source == EHPC_SOURCE or self.type.startswith("ehpc:")


def parse_event(body: bytes) -> EhpcEvent:
    """The event in ``body``; :class:`MalformedEventError` when it is not a JSON object with an ``id``."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedEventError("the body is not JSON (EventBridge sends the CloudEvents JSON)") from None
    if not isinstance(document, dict):
        raise MalformedEventError("the body must be a JSON object (one CloudEvents event)")
    event_id = document.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise MalformedEventError("the event has no id (a CloudEvents event always has one)")
    candidates = [*_cluster_ids_in(document.get("data"), depth=0), *_subject_ids(document.get("subject"))]
    return EhpcEvent(
        event_id=event_id,
        source=_text(document.get("source")),
        type=_text(document.get("type")),
        cluster_ids=tuple(dict.fromkeys(candidates)),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _cluster_ids_in(value: object, *, depth: int) -> Iterator[str]:
    """String values under a ``ClusterId``-like key anywhere in ``value`` (a few levels deep)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _CLUSTER_KEY.match(key) and isinstance(item, str):
                if _ID.match(item):
                    yield item
            else:
                yield from _cluster_ids_in(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value[:50]:
            yield from _cluster_ids_in(item, depth=depth + 1)


def _subject_ids(subject: object) -> Iterator[str]:
    """The ``subject``'s segments, last first (``acs.ehpc:cn-hangzhou:123:ehpc-hz-x`` ends in the id)."""
    if not isinstance(subject, str):
        return
    for part in reversed(re.split(r"[:/]", subject[:512])):
        if _ID.match(part):
            yield part
