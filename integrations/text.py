"""Plain-text pieces every renderer shares: clipping, durations, and the words for nodes and task errors.

Each vendor's renderer adds its own markup (Slack's backticks and escaping, a chat robot's markdown) around
these; the facts, their order and the limits come from here, once.
"""

from __future__ import annotations

from datetime import timedelta

from integrations.ehpc.task import Instance, TaskError

__all__ = ["ERROR_LINE_LIMIT", "clip", "duration", "error_message", "node_label"]

ERROR_LINE_LIMIT = 500
"""Characters of one task error line, markup included."""

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(delta: timedelta, *, parts: int | None = None, days: bool = False, minutes: bool = False) -> str:
    """``delta`` as ``1h 02m 03s``: from its largest non-zero unit, at most ``parts`` units (None: down to
    seconds); ``days`` counts days apart from hours; ``minutes`` always shows minutes (``0m 05s``)."""
    seconds = max(int(delta.total_seconds()), 0)
    counts = []
    for unit, size in _UNITS if days else _UNITS[1:]:
        count, seconds = divmod(seconds, size)
        counts.append((unit, count))
    first = next((index for index, (_, count) in enumerate(counts) if count), len(counts) - 1)
    if minutes:
        first = min(first, len(counts) - 2)
    shown = counts[first:] if parts is None else counts[first : first + parts]
    return " ".join(
        f"{count}{unit}" if i == 0 else f"{count:02d}{unit}" for i, (unit, count) in enumerate(shown)
    )


def node_label(node: Instance) -> tuple[str, str]:
    """A node's name (hostname, else instance id) and its details as `` (i-…, 10.0.0.1, compute)``."""
    name = node.hostname or node.instance_id or "unnamed node"
    details = [value for value in (node.instance_id if node.hostname else None, node.ip, node.role) if value]
    return name, f" ({', '.join(details)})" if details else ""


def error_message(error: TaskError) -> str:
    """What a task error says: its message, else its raw form."""
    return error.message if error.message is not None else str(error.raw)
