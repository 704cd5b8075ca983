"""Cluster mutes: operators pause a cluster's notifications from Slack; nothing happening meanwhile is lost.

A mute lives in Redis (hash ``Keys.mute`` + its end in the ``Keys.mute_ends`` sorted set). While it lasts,
delivery calls :meth:`Mutes.record_suppressed` instead of sending: the transition is kept in
``Keys.muted_transitions``, a hash by fingerprint (a redelivery keeps it once), at most ``MUTE_CAP`` of
them (beyond that they are counted, in the summary and in ``ehpc_bridge_capped_total{what="mute_list"}``).

Summaries are claimed, posted, then released, like the outbox. When a mute ends (:meth:`Mutes.expire_due`
from beat, or :meth:`Mutes.unmute` from ``/ehpc unmute``) one Lua script removes the mute and *claims* its
summary, atomically and once (two beats racing claim one between them): the kept transitions move under a
summary id fixed at that moment, listed in ``Keys.mute_summaries``. The worker posts each pending summary
(:func:`worker.deliver.problems.post_mute_summaries`, by beat) under that id — a retry finds a summary that
was posted before a failure or a crash instead of posting it again — and only then :meth:`Mutes.release`
deletes it. A failed post leaves the claim for the next run; one cluster's failure does not hold up the
others. A transition arriving after the end is delivered normally, so each appears in one summary, once.

The state tracker records every transition whatever the mute says; only the Slack announcement is held.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import redis

from integrations.base import MuteEndedNotice, Transition
from worker.ops import metrics
from worker.store.keys import Keys
from worker.store.lease import Lease
from worker.store.scripts import END_MUTE, KEEP_MUTED, reply_text

__all__ = ["MUTE_CAP", "Mute", "MuteSummary", "Mutes"]

MUTE_CAP = 5_000
"""Transitions kept per mute; beyond that they are only counted (the summary says how many)."""
_SUMMARY_LEASE = timedelta(minutes=2)


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
    """A mute that ended, with every transition it held back (oldest first), under its claimed id.

    ``untracked``: transitions held back beyond ``MUTE_CAP``, counted but not kept.
    """

    summary_id: str
    mute: Mute
    ended_at: datetime
    transitions: tuple[Transition, ...]
    untracked: int = 0

    def notice(self, *, cluster_name: str) -> MuteEndedNotice:
        """The summary as a cluster notice, for every target's policy to announce (once, by its id)."""
        return MuteEndedNotice(
            cluster_id=self.mute.cluster_id,
            cluster_name=cluster_name,
            started_at=self.mute.started_at,
            ended_at=self.ended_at,
            transitions=self.transitions,
            summary_id=self.summary_id,
            untracked=self.untracked,
        )


class Mutes:
    """Set, query and end cluster mutes in Redis."""

    def __init__(self, *, client: redis.Redis, keys: Keys, cap: int = MUTE_CAP) -> None:
        self._client = client
        self._keys = keys
        self._cap = cap
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
            args=[
                _epoch(now or datetime.now(UTC)),
                transition.fingerprint,
                transition.model_dump_json(),
                self._cap,
            ],
        )
        if int(kept) == 2:
            metrics.record_capped(what="mute_list")
        return bool(kept)

    def expire_due(self, now: datetime) -> list[MuteSummary]:
        """End every mute due by ``now`` and claim its summary; each is claimed once, by one caller."""
        due = cast(
            "list[bytes | str]", self._client.zrangebyscore(self._keys.mute_ends(), "-inf", now.timestamp())
        )
        summaries = (self._finish(reply_text(cluster_id), now=now, force=False) for cluster_id in due)
        return [summary for summary in summaries if summary is not None]

    def unmute(self, *, cluster_id: str, now: datetime) -> MuteSummary | None:
        """End the cluster's mute now and claim its summary; None when it was not muted."""
        return self._finish(cluster_id, now=now, force=True)

    def pending(self) -> list[MuteSummary]:
        """Every claimed summary not yet released (posted), oldest mute first."""
        ids = (reply_text(item) for item in self._client.smembers(self._keys.mute_summaries()))
        found = (self._summary(summary_id) for summary_id in ids)
        return sorted((s for s in found if s is not None), key=lambda s: (s.mute.started_at, s.summary_id))

    def lease(self, summary: MuteSummary) -> Lease | None:
        """The right to post ``summary`` (one poster at a time), or None while another worker posts it."""
        key = self._keys.mute_summary_lease(summary_id=summary.summary_id)
        return Lease.acquire(client=self._client, key=key, ttl=_SUMMARY_LEASE)

    def release(self, summary: MuteSummary) -> None:
        """Forget a summary once it was posted everywhere it goes."""
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(
                self._keys.mute_summary(summary_id=summary.summary_id),
                self._keys.mute_summary_items(summary_id=summary.summary_id),
            )
            pipe.srem(self._keys.mute_summaries(), summary.summary_id)
            pipe.execute()

    def _finish(self, cluster_id: str, *, now: datetime, force: bool) -> MuteSummary | None:
        summary_id = f"{cluster_id}:{secrets.token_hex(8)}"
        ended = self._end(
            keys=[
                self._keys.mute(cluster_id=cluster_id),
                self._keys.muted_transitions(cluster_id=cluster_id),
                self._keys.mute_ends(),
                self._keys.mute_summary(summary_id=summary_id),
                self._keys.mute_summary_items(summary_id=summary_id),
                self._keys.mute_summaries(),
            ],
            args=[cluster_id, _epoch(now), "1" if force else "0", summary_id],
        )
        return self._summary(summary_id) if ended else None

    def _summary(self, summary_id: str) -> MuteSummary | None:
        fields = _decode(self._client.hgetall(self._keys.mute_summary(summary_id=summary_id)))
        if "cluster" not in fields or "until" not in fields:
            return None
        mute = _mute(fields["cluster"], fields)
        held = self._client.hvals(self._keys.mute_summary_items(summary_id=summary_id))
        kept = sorted(
            (Transition.model_validate_json(item) for item in held),
            key=lambda t: (t.observed_at, t.task_key, t.sequence),
        )
        return MuteSummary(
            summary_id=summary_id,
            mute=mute,
            ended_at=min(_time(fields["ended"]), mute.until),
            transitions=tuple(kept),
            untracked=int(fields.get("overflow", "0")),
        )


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
