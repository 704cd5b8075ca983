"""Cluster mutes: operators pause a cluster's notifications from Slack; nothing happening meanwhile is lost.

A mute lives in Redis (hash ``Keys.mute`` + its end in the ``Keys.mute_ends`` sorted set). While it lasts,
delivery calls :meth:`Mutes.record_suppressed` instead of sending: the transition is kept in
``Keys.muted_transitions``. When it ends (:meth:`Mutes.expire_due` from beat, or :meth:`Mutes.unmute` from
``/ehpc unmute``) a Lua script removes the mute and hands back everything kept, atomically, exactly once
(two beats racing get one summary between them), as a :class:`MuteSummary` to post in the cluster's channel.

The state tracker records every transition whatever the mute says; only the Slack announcement is held.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import redis

from integrations.base import MuteEndedNotice, Transition
from worker.store.keys import Keys
from worker.store.scripts import END_MUTE, KEEP_MUTED, reply_text

__all__ = ["Mute", "MuteSummary", "Mutes"]


@dataclass(frozen=True)
class Mute:
    """A cluster's current mute."""

    cluster_id: str
    started_at: datetime
    until: datetime
    reason: str
    user_id: str


@dataclass(frozen=True)
class MuteSummary:
    """A mute that ended, with every transition it held back (oldest first)."""

    mute: Mute
    ended_at: datetime
    transitions: tuple[Transition, ...]

    def notice(self, *, cluster_name: str) -> MuteEndedNotice:
        """The summary as a cluster notice, for every target's policy to announce."""
        return MuteEndedNotice(
            cluster_id=self.mute.cluster_id,
            cluster_name=cluster_name,
            started_at=self.mute.started_at,
            ended_at=self.ended_at,
            transitions=self.transitions,
        )


class Mutes:
    """Set, query and end cluster mutes in Redis."""

    def __init__(self, *, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._keep = client.register_script(KEEP_MUTED)
        self._end = client.register_script(END_MUTE)

    def mute(self, *, cluster_id: str, until: datetime, reason: str, user_id: str, now: datetime) -> Mute:
        """Mute a cluster until ``until``; muting a muted cluster moves its end and keeps what it holds."""
        key = self._keys.mute(cluster_id=cluster_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.hsetnx(key, "started", _epoch(now))
        pipe.hset(key, mapping={"until": _epoch(until), "reason": reason, "user": user_id})
        pipe.zadd(self._keys.mute_ends(), {cluster_id: float(_epoch(until))})
        pipe.hgetall(key)
        fields = pipe.execute()[-1]
        return _mute(cluster_id, _decode(fields))

    def current(self, cluster_id: str, *, now: datetime) -> Mute | None:
        """The cluster's mute if one is in force at ``now``."""
        fields = _decode(self._client.hgetall(self._keys.mute(cluster_id=cluster_id)))
        if "until" not in fields:
            return None
        mute = _mute(cluster_id, fields)
        return mute if mute.until > now else None

    def record_suppressed(
        self, cluster_id: str, transition: Transition, *, now: datetime | None = None
    ) -> bool:
        """Keep ``transition`` for the summary if the cluster is muted; False means "not muted: send it"."""
        kept = self._keep(
            keys=[
                self._keys.mute(cluster_id=cluster_id),
                self._keys.muted_transitions(cluster_id=cluster_id),
            ],
            args=[_epoch(now or datetime.now(UTC)), transition.model_dump_json()],
        )
        return bool(kept)

    def expire_due(self, now: datetime) -> list[MuteSummary]:
        """End every mute due by ``now``; each ended mute is returned once, to one caller."""
        due = cast(
            "list[bytes | str]", self._client.zrangebyscore(self._keys.mute_ends(), "-inf", now.timestamp())
        )
        summaries = (self._finish(reply_text(cluster_id), now=now, force=False) for cluster_id in due)
        return [summary for summary in summaries if summary is not None]

    def unmute(self, *, cluster_id: str, now: datetime) -> MuteSummary | None:
        """End the cluster's mute now; None when it was not muted."""
        return self._finish(cluster_id, now=now, force=True)

    def _finish(self, cluster_id: str, *, now: datetime, force: bool) -> MuteSummary | None:
        reply = self._end(
            keys=[
                self._keys.mute(cluster_id=cluster_id),
                self._keys.muted_transitions(cluster_id=cluster_id),
                self._keys.mute_ends(),
            ],
            args=[cluster_id, _epoch(now), "1" if force else "0"],
        )
        if not reply:
            return None
        flat, held = ([reply_text(item) for item in part] for part in reply)
        mute = _mute(cluster_id, dict(zip(flat[0::2], flat[1::2], strict=True)))
        kept = tuple(Transition.model_validate_json(item) for item in held)
        return MuteSummary(mute=mute, ended_at=min(now, mute.until), transitions=kept)


def _mute(cluster_id: str, fields: Mapping[str, str]) -> Mute:
    until = _time(fields["until"])
    return Mute(
        cluster_id=cluster_id,
        started_at=_time(fields.get("started", fields["until"])),
        until=until,
        reason=fields.get("reason", ""),
        user_id=fields.get("user", ""),
    )


def _decode(fields: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {reply_text(name): reply_text(value) for name, value in fields.items()}


def _epoch(moment: datetime) -> str:
    """Epoch seconds, cut (not rounded) to milliseconds so a mute never outlasts its ``until``."""
    return f"{math.floor(moment.timestamp() * 1000) / 1000:.3f}"


def _time(epoch: str) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)
