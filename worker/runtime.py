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

from integrations.base import DeliveryPolicy, DeliveryStores, Notifier, Transition
from integrations.ehpc.client import EhpcClient
from integrations.ehpc.client2024 import EhpcClient2024
from integrations.http import DEFAULT_TIMEOUT, new_session
from integrations.registry import Destination, build_destination
from integrations.slack.links import first_slack_thread_links
from integrations.target import (
    MissingSettingError,
    NotifierContext,
    SlackAccess,
    TargetConfig,
)
from worker.config.clusters import load_bridge_config
from worker.config.models import BridgeConfig, ClusterConfig, UnknownNameError
from worker.config.settings import Settings
from worker.deliver import fence
from worker.deliver.backlog import ChannelBacklog
from worker.deliver.budget import ChannelBudget
from worker.deliver.dead_letters import DeadLetters
from worker.deliver.digests import DigestClaims
from worker.deliver.edits import EditCoalescing
from worker.deliver.message_refs import RedisMessageRefs
from worker.deliver.mutes import Mutes
from worker.deliver.outbox import DeliveryLedger, Outbox
from worker.deliver.target_state import RedisIncidentLedger, RedisTargetState
from worker.detect.cursor import CursorStore
from worker.detect.diff import ClusterRef, TaskState
from worker.detect.oplog import OperationMemory
from worker.ops import metrics
from worker.routing import route
from worker.slack_app.lookup import Lookup
from worker.store.epoch import Epoch
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
    cursors: CursorStore = field(init=False)
    outbox: Outbox = field(init=False)
    ledger: DeliveryLedger = field(init=False)
    lookup: Lookup = field(init=False)
    mutes: Mutes = field(init=False)
    budget: ChannelBudget = field(init=False)
    backlog: ChannelBacklog = field(init=False)
    digests: DigestClaims = field(init=False)
    dead_letters: DeadLetters = field(init=False)
    epoch: Epoch = field(init=False)
    session: requests.Session = field(init=False)
    _ehpc: dict[str, EhpcClient] = field(init=False, default_factory=dict)
    _ehpc2024: dict[str, EhpcClient2024] = field(init=False, default_factory=dict)
    _destinations: dict[tuple[str, str], Destination] = field(init=False, default_factory=dict)
    # The clock 2.0 windows end at (Unix seconds): the cloud's "now" is ours; tests hand in a simulator's.
    wall: Callable[[], float] = field(default=time.time)

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
        self.cursors = CursorStore(client=self.redis, keys=self.keys)
        self.outbox = Outbox(client=self.redis, keys=self.keys)
        self.ledger = DeliveryLedger(client=self.redis, keys=self.keys)
        self.lookup = Lookup(client=self.redis, keys=self.keys)
        self.mutes = Mutes(client=self.redis, keys=self.keys)
        self.budget = ChannelBudget(
            client=self.redis, keys=self.keys, rate=self.settings.slack_rate, burst=self.settings.slack_burst
        )
        self.backlog = ChannelBacklog(client=self.redis, keys=self.keys)
        self.digests = DigestClaims(client=self.redis, keys=self.keys)
        self.dead_letters = DeadLetters(client=self.redis, keys=self.keys)
        self.epoch = Epoch(client=self.redis, keys=self.keys)
        self.session = new_session(before_request=fence.renew)

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
        """The watched cluster ``cluster_id``; :class:`UnknownNameError` for one that is not configured."""
        try:
            return self.clusters[cluster_id]
        except KeyError:
            raise UnknownNameError(f"cluster {cluster_id!r} is not watched") from None

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

    def scope(self, *, target_name: str, cluster_id: str) -> str:
        """What one notifier of ``target_name`` serves for ``cluster_id`` (Slack: the channel; else "").

        A cluster that isn't watched (``check`` with no clusters asks for ``""``) has no channel of its own.
        """
        cluster = self.clusters.get(cluster_id)
        return self.targets[target_name].scope(
            cluster_id=cluster_id,
            cluster_channel=cluster.slack_channel if cluster is not None else None,
            default_channel=self.settings.slack_channel,
        )

    def destination(self, *, target_name: str, cluster_id: str) -> Destination:
        """The notifier and delivery policy of ``target_name`` for ``cluster_id`` (built once, reused)."""
        scope = self.scope(target_name=target_name, cluster_id=cluster_id)
        if (target_name, scope) not in self._destinations:
            self._destinations[(target_name, scope)] = self._build(self.targets[target_name], scope)
        return self._destinations[(target_name, scope)]

    def setup_problems(self, *, target_name: str) -> list[MissingSettingError]:
        """What ``target_name`` lacks before it can be built, for ``check``: each setting, each cluster."""
        problems = self.targets[target_name].access_problems(slack=self._slack_access())
        for cluster_id in self.clusters or [""]:
            try:
                self.scope(target_name=target_name, cluster_id=cluster_id)
            except MissingSettingError as problem:
                problems.append(problem)
        return problems

    def notifier(self, *, target_name: str, cluster_id: str) -> Notifier:
        """The notifier delivering to ``target_name`` for ``cluster_id``."""
        return self.destination(target_name=target_name, cluster_id=cluster_id).notifier

    def policy(self, *, target_name: str, cluster_id: str) -> DeliveryPolicy:
        """How deliveries to ``target_name`` for ``cluster_id`` are paced."""
        return self.destination(target_name=target_name, cluster_id=cluster_id).policy

    def _stores(self, target_name: str) -> DeliveryStores:
        """The Redis stores of one target, handed to its notifier and policy."""
        return DeliveryStores(
            edits=EditCoalescing(
                client=self.redis,
                keys=self.keys,
                destination=target_name,
                interval=self.settings.slack_edit_interval,
            ),
            budget=self.budget,
            backlog=self.backlog.of_target(target_name),
            mutes=self.mutes,
            refs=self.message_refs(target_name),
        )

    def message_refs(self, target_name: str) -> RedisMessageRefs:
        """Where the Slack target ``target_name`` keeps each task's message (channel, ts, sequence)."""
        return RedisMessageRefs(
            client=self.redis,
            key_for=partial(self.keys.slack_message, destination=target_name),
            log_key_for=self.keys.task_log,
            suspect_since=lambda now: self.epoch.suspect_since(now=now),
        )

    def _slack_access(self) -> SlackAccess:
        return SlackAccess(
            token=self.settings.slack_bot_token,
            base_url=self.settings.slack_api_url,
            timeout=self.settings.slack_timeout,
            on_history_refused=metrics.record_slack_history_unreadable,
        )

    def _build(self, target: TargetConfig, scope: str) -> Destination:
        context = NotifierContext(
            state_for=lambda name: RedisTargetState(client=self.redis, keys=self.keys, target=name),
            thread_links=first_slack_thread_links(self.config.targets, refs_for=self.message_refs),
            scope=scope,
            stores_for=self._stores,
            slack=self._slack_access(),
            incidents_for=lambda name: RedisIncidentLedger(client=self.redis, keys=self.keys, target=name),
            before_call=fence.renew,
        )
        return build_destination(target, session=self.session, context=context)

    def delivery_lease_ttl(self, destination: str) -> timedelta:
        """How long a delivery's lease lasts between renewals (renewed before every vendor call).

        One and a half times the longest one call to ``destination`` may take (``EHPC_SLACK_TIMEOUT`` for
        Slack, the shared session's connect + read timeouts for the others), so a call started right after
        a renewal ends, or times out, before the lease can pass to another worker.
        """
        longest = self.targets[destination].longest_call(
            slack=self._slack_access(), session_timeout=float(sum(DEFAULT_TIMEOUT))
        )
        return timedelta(seconds=1.5 * longest)

    def poll_interval(self, cluster_id: str) -> float:
        """Seconds between two polls of ``cluster_id`` (its own setting, else ``EHPC_POLL_INTERVAL``)."""
        return self.cluster(cluster_id).poll_interval or self.settings.poll_interval


@cache
def runtime() -> Runtime:
    """The process-wide runtime, built from the environment on first use."""
    return Runtime.from_settings(Settings())
