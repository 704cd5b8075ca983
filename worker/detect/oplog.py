"""What Redis remembers of an E-HPC 2.0 cluster between polls: its watermark, its operations, its generation.

The 2.0 poll path (:mod:`worker.detect.poll2024`) reads operation logs in windows; between two polls it
needs

- the **watermark**: Unix seconds up to which the logs were read (the last window's ``To``), moved forward
  only, and only after the window's tasks were recorded (so a poll that dies mid-way reads it again);
- per operation (RequestId) a **snapshot**: the task as last built, with its stages (read only when the
  operation wrote something new), the signature that says whether it did, and when it was first and last
  seen. Bounded: a final operation's snapshot is dropped once its last line is two overlaps behind the
  watermark (the diff's finished memory, not this hash, keeps it from being announced twice);
- the **generation** of a cluster configured ``api: auto``, as the 2024 API said (no expiry; an "unknown"
  answer is kept an hour, then asked again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from integrations.ehpc.task import Generation, Task
from worker.store.keys import Keys
from worker.store.scripts import RAISE_WATERMARK, reply_text

__all__ = ["OperationMemory", "Snapshot"]

UNKNOWN_GENERATION_TTL = 3600  # seconds before asking again about a cluster the 2024 API did not know


@dataclass(frozen=True)
class Snapshot:
    """One operation as the last poll built it."""

    signature: str  # "" until its stages were read once
    task: Task
    first_seen: float  # Unix seconds
    last_seen: float  # Unix seconds of the last window that showed it

    def to_json(self) -> str:
        return json.dumps(
            {
                "signature": self.signature,
                "task": self.task.model_dump(mode="json"),
                "first_seen": self.first_seen,
                "last_seen": self.last_seen,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        return cls(
            signature=str(data["signature"]),
            task=Task.model_validate(data["task"]),
            first_seen=float(data["first_seen"]),
            last_seen=float(data["last_seen"]),
        )


class OperationMemory:
    """Watermarks, operation snapshots and remembered generations, under :class:`Keys`."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._raise = client.register_script(RAISE_WATERMARK)

    def watermark(self, *, cluster_id: str) -> float | None:
        """Unix seconds up to which the cluster's logs were read; None before the first complete poll."""
        value = self._client.get(self._keys.oplog_watermark(cluster_id=cluster_id))
        return None if value is None else float(reply_text(value))

    def raise_watermark(self, *, cluster_id: str, until: float) -> None:
        """Say the logs up to ``until`` are recorded (never moves back)."""
        self._raise(keys=[self._keys.oplog_watermark(cluster_id=cluster_id)], args=[int(until)])

    def snapshots(self, *, cluster_id: str) -> dict[str, Snapshot]:
        """Every remembered operation of the cluster, by RequestId."""
        raw = self._client.hgetall(self._keys.oplog_operations(cluster_id=cluster_id))
        return {reply_text(k): Snapshot.from_json(reply_text(v)) for k, v in raw.items()}

    def remember(self, *, cluster_id: str, snapshots: list[Snapshot]) -> None:
        """Store these operations' snapshots (one round trip)."""
        if snapshots:
            items = [part for snap in snapshots for part in (snap.task.task_id, snap.to_json())]
            self._client.hset(self._keys.oplog_operations(cluster_id=cluster_id), items=items)

    def forget_before(self, *, cluster_id: str, known: dict[str, Snapshot], before: float) -> int:
        """Drop final operations last seen before ``before`` (Unix s); returns how many were dropped."""
        old = [rid for rid, snap in known.items() if snap.task.status.is_final and snap.last_seen < before]
        if old:
            self._client.hdel(self._keys.oplog_operations(cluster_id=cluster_id), *old)
        return len(old)

    def generation(self, *, cluster_id: str) -> Generation | None:
        """The generation remembered for a cluster (``api: auto``), or None when not asked yet."""
        value = self._client.get(self._keys.generation(cluster_id=cluster_id))
        text = None if value is None else reply_text(value)
        return "2.0" if text == "2.0" else "1.0" if text == "1.0" else None

    def remember_generation(self, *, cluster_id: str, generation: Generation, known: bool) -> None:
        """Keep the answer; one the 2024 API could not give (``known`` False) only for an hour."""
        self._client.set(
            self._keys.generation(cluster_id=cluster_id),
            generation,
            ex=None if known else UNKNOWN_GENERATION_TTL,
        )
