"""Who may ask ``/ehpc`` about which cluster: channels first, then (optionally) users and user groups.

A cluster is visible only from the channels it is mapped to (its ``slack_channel`` in the configuration; in
the env-only setup every watched cluster belongs to ``SLACK_CHANNEL``): default deny everywhere else. Within
those channels anyone may look up, unless the cluster names ``lookup_users`` / ``lookup_groups``; muting
likewise with ``mute_users`` / ``mute_groups``. Every refusal is logged with who, where, what and why.

Channels are matched by ID (``C0123…``) or by name (``#hpc-ops`` and ``hpc-ops`` are the same), since
configurations name them either way and Slack sends both with each request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from integrations.target import TargetSetupError
from worker.config.models import DEFAULT_TARGET

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = [
    "AccessPolicy",
    "AccessSetupError",
    "ClusterAccess",
    "Decision",
    "Permission",
    "Requester",
    "access_policy",
]


class AccessSetupError(Exception):
    """The Slack app can't tell which channel a cluster belongs to (or no cluster is watched)."""


log = logging.getLogger(__name__)


class Permission(StrEnum):
    """What a request wants to do with a cluster."""

    LOOKUP = "lookup"
    MUTE = "mute"


@dataclass(frozen=True)
class Requester:
    """Who asks and from where, as Slack says in the request."""

    user_id: str
    channel_id: str
    channel_name: str = ""


@dataclass(frozen=True)
class ClusterAccess:
    """One cluster's audience; empty user and group sets mean "anyone in the cluster's channels".

    ``channels[0]`` is the cluster's home channel, where mutes are announced.
    """

    cluster_id: str
    name: str
    channels: tuple[str, ...]
    lookup_users: frozenset[str] = field(default_factory=frozenset)
    lookup_groups: frozenset[str] = field(default_factory=frozenset)
    mute_users: frozenset[str] = field(default_factory=frozenset)
    mute_groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Decision:
    """An authorization answer; ``reason`` is shown to the user when refused (plain words, no secrets)."""

    allowed: bool
    reason: str = ""


class AccessPolicy:
    """Authorization for the Slack app; ``members_of`` resolves a user group ID to its user IDs."""

    def __init__(
        self,
        *,
        clusters: Iterable[ClusterAccess],
        members_of: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        self._clusters = {cluster.cluster_id: cluster for cluster in clusters}
        self._members_of = members_of

    def cluster(self, cluster_id: str) -> ClusterAccess | None:
        """The watched cluster with this ID, if any."""
        return self._clusters.get(cluster_id)

    def visible(self, requester: Requester) -> list[ClusterAccess]:
        """The clusters mapped to the requester's channel, in configuration order."""
        return [cluster for cluster in self._clusters.values() if _in_channel(cluster, requester)]

    def check(self, requester: Requester, *, cluster_id: str, permission: Permission) -> Decision:
        """May ``requester`` do ``permission`` on ``cluster_id``? Refusals are logged."""
        decision = self._decide(requester, cluster_id=cluster_id, permission=permission)
        if not decision.allowed:
            log.warning(
                "refused %s on cluster %r to user %s in channel %s (%s): %s",
                permission.value,
                cluster_id,
                requester.user_id,
                requester.channel_id,
                requester.channel_name,
                decision.reason,
            )
        return decision

    def _decide(self, requester: Requester, *, cluster_id: str, permission: Permission) -> Decision:
        cluster = self._clusters.get(cluster_id)
        if cluster is None:
            return Decision(False, "it is not one of the clusters ehpc-bridge watches")
        if not _in_channel(cluster, requester):
            return Decision(False, "it does not belong to this channel")
        users, groups = (
            (cluster.lookup_users, cluster.lookup_groups)
            if permission is Permission.LOOKUP
            else (cluster.mute_users, cluster.mute_groups)
        )
        if not users and not groups:
            return Decision(True)
        if requester.user_id in users or any(requester.user_id in self._members(group) for group in groups):
            return Decision(True)
        verb = "look up" if permission is Permission.LOOKUP else "mute"
        return Decision(False, f"you are not among the people allowed to {verb} it")

    def _members(self, group_id: str) -> frozenset[str]:
        if self._members_of is None:
            return frozenset()
        return self._members_of(group_id)


def _in_channel(cluster: ClusterAccess, requester: Requester) -> bool:
    names = {requester.channel_id, requester.channel_name.lstrip("#")} - {""}
    return any(channel.lstrip("#") in names for channel in cluster.channels)


def access_policy(rt: Runtime) -> AccessPolicy:
    """Each watched cluster belongs to the channel its Slack messages go to (``SLACK_CHANNEL`` by default).

    Raises :class:`AccessSetupError` naming a cluster that has no channel at all, or when none is watched.
    """
    has_default = DEFAULT_TARGET in rt.targets
    grants = []
    for cluster in rt.clusters.values():
        try:
            scope = rt.scope(target_name=DEFAULT_TARGET, cluster_id=cluster.id) if has_default else ""
        except TargetSetupError as error:
            raise AccessSetupError(str(error)) from None
        channel = scope or cluster.slack_channel or rt.settings.slack_channel or ""
        if not channel:
            raise AccessSetupError(f"no Slack channel for cluster {cluster.id}: set SLACK_CHANNEL")
        grants.append(ClusterAccess(cluster.id, cluster.display_name, (channel,)))
    if not grants:
        raise AccessSetupError("no cluster is watched: set EHPC_CLUSTERS or list clusters in EHPC_CONFIG")
    return AccessPolicy(clusters=grants)
