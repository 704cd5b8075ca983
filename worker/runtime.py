"""The composition root of a worker process: settings, Redis, the E-HPC client, state and notifiers.

Celery tasks take ids, never clients: each task asks :func:`runtime` for the process-wide objects, built
once on first use (never at import). Tests build a :class:`Runtime` themselves from their own settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, partial
from typing import Any

import redis
import requests

from integrations.base import Notifier, Transition
from integrations.ehpc.client import EhpcClient
from integrations.ehpc.client2024 import EhpcClient2024
from integrations.http import new_session
from integrations.registry import build_notifier
from integrations.slack.links import SlackThreadLinks
from integrations.slack.notifier import RedisMessageRefs, SlackNotifier
from integrations.target import NotifierContext, SlackTarget, TargetConfig
from worker.config.clusters import load_bridge_config
from worker.config.models import BridgeConfig, ClusterConfig
from worker.config.settings import Settings
from worker.deliver.budget import ChannelBudget
from worker.deliver.digests import DigestQueue
from worker.deliver.mutes import Mutes
from worker.deliver.outbox import DeliveryLedger, Outbox
from worker.deliver.target_state import RedisIncidentLedger, RedisTargetState
from worker.detect.diff import ClusterRef, TaskState
from worker.detect.oplog import OperationMemory
from worker.routing import route
from worker.slack_app.lookup import Lookup
from worker.store.keys import Keys

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    """Everything the pipeline needs, built from :class:`Settings`; one per process."""

    settings: Settings
    redis: redis.Redis
    config: BridgeConfig
    clusters: dict[str, ClusterConfig] = field(init=False)
    targets: dict[str, TargetConfig] = field(init=False)
    keys: Keys = field(init=False)
    state: TaskState = field(init=False)
    oplog: OperationMemory = field(init=False)
    outbox: Outbox = field(init=False)
    ledger: DeliveryLedger = field(init=False)
    lookup: Lookup = field(init=False)
    mutes: Mutes = field(init=False)
    budget: ChannelBudget = field(init=False)
    digests: DigestQueue = field(init=False)
    session: requests.Session = field(init=False)
    _ehpc: dict[str, EhpcClient] = field(init=False, default_factory=dict)
    _ehpc2024: dict[str, EhpcClient2024] = field(init=False, default_factory=dict)
    # The clock 2.0 windows end at (Unix seconds): the cloud's "now" is ours; tests hand in a simulator's.
    wall: Callable[[], float] = field(default=time.time)
    _notifiers: dict[tuple[str, str], Notifier] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.clusters = {cluster.id: cluster for cluster in self.config.clusters}
        self.targets = {target.name: target for target in self.config.targets}
        self.keys = Keys(prefix=self.settings.redis_prefix)
        self.state = TaskState(
            client=self.redis,
            keys=self.keys,
            announce_running_on_baseline=self.settings.announce_running_on_baseline,
        )
        self.oplog = OperationMemory(client=self.redis, keys=self.keys)
        self.outbox = Outbox(client=self.redis, keys=self.keys)
        self.ledger = DeliveryLedger(client=self.redis, keys=self.keys)
        self.lookup = Lookup(client=self.redis, keys=self.keys)
        self.mutes = Mutes(client=self.redis, keys=self.keys)
        self.budget = ChannelBudget(
            client=self.redis, keys=self.keys, rate=self.settings.slack_rate, burst=self.settings.slack_burst
        )
        self.digests = DigestQueue(client=self.redis, keys=self.keys)
        self.session = new_session()

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Build a runtime, validating the cluster list and targets (a bad config fails here, loudly)."""
        return cls(
            settings=settings,
            redis=redis.Redis.from_url(settings.redis_url),
            config=load_bridge_config(settings),
        )

    def destinations(self, transition: Transition) -> list[str]:
        """The targets ``transition`` goes to, by the routing rules."""
        return route(transition, self.config)

    def cluster(self, cluster_id: str) -> ClusterConfig:
        """The watched cluster ``cluster_id``; KeyError for one that is not configured."""
        return self.clusters[cluster_id]

    def ref(self, cluster_id: str) -> ClusterRef:
        """How transitions name ``cluster_id``."""
        cluster = self.cluster(cluster_id)
        return ClusterRef(
            cluster_id=cluster.id,
            name=cluster.display_name,
            labels=dict(cluster.labels),
            announce_running_on_baseline=cluster.announce_running_on_baseline,
        )

    def ehpc(self, cluster_id: str) -> EhpcClient:
        """The ListTasks client for the cluster's region (one per region, shared by its clusters)."""
        return self.ehpc_in(self.cluster(cluster_id).region or self.settings.region)

    def ehpc_in(self, region: str) -> EhpcClient:
        """The ListTasks client for ``region``, built on first use."""
        if region not in self._ehpc:
            self._ehpc[region] = EhpcClient(region=region, **self._ehpc_credentials())
        return self._ehpc[region]

    def ehpc2024(self, cluster_id: str) -> EhpcClient2024:
        """The E-HPC 2.0 (2024-07-30) client for the cluster's region: the same endpoint and credentials."""
        region = self.cluster(cluster_id).region or self.settings.region
        if region not in self._ehpc2024:
            self._ehpc2024[region] = EhpcClient2024(region=region, now=self.wall, **self._ehpc_credentials())
        return self._ehpc2024[region]

    def _ehpc_credentials(self) -> dict[str, Any]:
        """Endpoint and keys both clients take: explicit keys when set, else the SDK's standard chain."""
        keyed = bool(self.settings.access_key_id)
        return {
            "endpoint": self.settings.endpoint,
            "access_key_id": self.settings.access_key_id,
            "access_key_secret": self.settings.access_key_secret if keyed else None,
            "security_token": self.settings.security_token if keyed else None,
        }

    def slack_channel(self, *, target: SlackTarget, cluster_id: str) -> str:
        """Where a Slack target posts for a cluster: its own channel, the cluster's, or SLACK_CHANNEL.

        A cluster that isn't watched (``check`` with no clusters asks for ``""``) has no channel of its own.
        """
        cluster = self.clusters.get(cluster_id)
        own = cluster.slack_channel if cluster is not None else None
        channel = target.channel or own or self.settings.slack_channel
        if not channel:
            raise LookupError(f"no Slack channel for cluster {cluster_id}: set SLACK_CHANNEL")
        return channel

    def notifier(self, *, target_name: str, cluster_id: str) -> Notifier:
        """The notifier delivering to ``target_name`` for ``cluster_id`` (built once, then reused)."""
        target = self.targets[target_name]
        scope = (
            self.slack_channel(target=target, cluster_id=cluster_id)
            if isinstance(target, SlackTarget)
            else ""
        )
        if (target_name, scope) not in self._notifiers:
            self._notifiers[(target_name, scope)] = self._build(target, scope)
        return self._notifiers[(target_name, scope)]

    def _message_refs(self, target_name: str) -> RedisMessageRefs:
        return RedisMessageRefs(
            client=self.redis, key_for=partial(self.keys.slack_message, destination=target_name)
        )

    def _thread_links(self) -> SlackThreadLinks | None:
        """Links to the first Slack target's task messages, for vendors that link back."""
        slack = next((name for name, target in self.targets.items() if isinstance(target, SlackTarget)), None)
        return None if slack is None else SlackThreadLinks(refs=self._message_refs(slack))

    def _build(self, target: TargetConfig, channel: str) -> Notifier:
        if isinstance(target, SlackTarget):
            token = self.settings.slack_bot_token
            if token is None:
                raise LookupError("SLACK_BOT_TOKEN is not set")
            refs = self._message_refs(target.name)
            return SlackNotifier(
                token=token.get_secret_value(),
                channel=channel,
                refs=refs,
                base_url=self.settings.slack_api_url,
            )
        context = NotifierContext(
            state_for=lambda name: RedisTargetState(client=self.redis, keys=self.keys, target=name),
            incidents_for=lambda name: RedisIncidentLedger(client=self.redis, keys=self.keys, target=name),
            thread_links=self._thread_links(),
        )
        return build_notifier(target, session=self.session, context=context)

    @property
    def poll_lease_ttl(self) -> timedelta:
        """How long a poll may hold its cluster's lock before it is presumed dead.

        Short enough that a worker killed mid-poll delays the cluster's polls by about one interval; a
        poll that really takes longer only risks an overlapping poll, which is wasteful, not wrong (the
        diff is atomic and idempotent).
        """
        return timedelta(seconds=max(60.0, 2 * self.settings.poll_interval))


@cache
def runtime() -> Runtime:
    """The process-wide runtime, built from the environment on first use."""
    return Runtime.from_settings(Settings())
