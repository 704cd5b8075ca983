"""Who may ask ``/ehpc`` about which cluster: channels first, then (optionally) users and user groups.

A cluster is visible only from its channels: ``access.channels`` in the configuration, else every channel
its notifications are routed to on any Slack target (in the env-only setup, ``SLACK_CHANNEL``); default
deny everywhere else. Within those channels anyone may look up, unless the rules name ``lookup_users`` /
``lookup_groups``; muting likewise with ``mute_users`` / ``mute_groups`` (per cluster, else the top-level
``access:`` defaults; see :class:`~worker.config.models.SlackAccessConfig`). Every refusal is logged with
who, where, what and why, and tells the asker whom to ask (the configured ``contact``, else the people
or channels that may).

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
from worker.config.models import ClusterConfig
from worker.routing import cluster_targets
from worker.slack_app.groups import GroupLookupError

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = [
    "AccessPolicy",
    "AccessSetupError",
    "AskWhom",
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
    contact: str = ""

    def audience(self, permission: Permission) -> tuple[frozenset[str], frozenset[str]]:
        """The users and the user groups allowed ``permission`` (both empty: anyone in the channels)."""
        if permission is Permission.LOOKUP:
            return self.lookup_users, self.lookup_groups
        return self.mute_users, self.mute_groups


@dataclass(frozen=True)
class AskWhom:
    """Whom a refused person should ask: the configured contact, else these people or channels."""

    contact: str = ""
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """An authorization answer; ``reason`` is shown to the user when refused (plain words, no secrets)."""

    allowed: bool
    reason: str = ""
    ask: AskWhom = field(default_factory=AskWhom)


class AccessPolicy:
    """Authorization for the Slack app; ``members_of`` resolves a user group ID to its user IDs."""

    def __init__(
        self,
        *,
        clusters: Iterable[ClusterAccess],
        members_of: Callable[[str], frozenset[str]] | None = None,
        contact: str = "",
    ) -> None:
        self._clusters = {cluster.cluster_id: cluster for cluster in clusters}
        self._members_of = members_of
        self.contact = contact  # whom to ask when no cluster belongs to a channel

    def cluster(self, cluster_id: str) -> ClusterAccess | None:
        """The watched cluster with this ID, if any."""
        return self._clusters.get(cluster_id)

    def visible(self, requester: Requester) -> list[ClusterAccess]:
        """The clusters mapped to the requester's channel, in configuration order."""
        return [cluster for cluster in self._clusters.values() if _in_channel(cluster, requester)]

    def named_for(self, user_id: str) -> tuple[list[ClusterAccess], int]:
        """For the App Home (no channel): the clusters whose lookup rules name ``user_id`` (directly or by
        a user group), and how many more are open to their channels' members (not shown there)."""
        named, open_to_channels = [], 0
        for cluster in self._clusters.values():
            users, groups = cluster.audience(Permission.LOOKUP)
            if not users and not groups:
                open_to_channels += 1
            elif user_id in users or any(self._member(user_id, group) for group in sorted(groups)):
                named.append(cluster)
        return named, open_to_channels

    def _member(self, user_id: str, group_id: str) -> bool:
        try:
            return user_id in self._members(group_id)
        except GroupLookupError as error:
            log.warning("could not resolve user group %s: %s", group_id, error)
            return False

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
            return Decision(False, "it is not one of the clusters ehpc-bridge watches (check the ClusterId)")
        if not _in_channel(cluster, requester):
            ask = AskWhom(contact=cluster.contact, channels=() if cluster.contact else cluster.channels)
            return Decision(False, "it does not belong to this channel", ask)
        users, groups = cluster.audience(permission)
        if not users and not groups:
            return Decision(True)
        if requester.user_id in users:
            return Decision(True)
        ask = AskWhom(
            contact=cluster.contact,
            users=() if cluster.contact else tuple(sorted(users)),
            groups=() if cluster.contact else tuple(sorted(groups)),
        )
        verb = "look it up" if permission is Permission.LOOKUP else "mute it"
        unresolved = []
        for group in sorted(groups):
            try:
                if requester.user_id in self._members(group):
                    return Decision(True)
            except GroupLookupError as error:
                log.warning("could not resolve user group %s: %s", group, error)
                unresolved.append(group)
        if unresolved:
            reason = f"Slack would not tell me who is in the user groups allowed to {verb}; try again soon"
            return Decision(False, reason, ask)
        return Decision(False, f"you are not among the people allowed to {verb}", ask)

    def _members(self, group_id: str) -> frozenset[str]:
        if self._members_of is None:
            raise GroupLookupError(group_id, "no user group resolver")
        return self._members_of(group_id)


def _in_channel(cluster: ClusterAccess, requester: Requester) -> bool:
    names = {requester.channel_id, requester.channel_name.lstrip("#")} - {""}
    return any(channel.lstrip("#") in names for channel in cluster.channels)


def access_policy(rt: Runtime, *, members_of: Callable[[str], frozenset[str]] | None = None) -> AccessPolicy:
    """Each watched cluster's audience from the configuration's access rules and routes.

    Raises :class:`AccessSetupError` naming a cluster routed to a Slack target that has no channel, or when
    no cluster is watched.
    """
    defaults = rt.config.access
    grants = []
    for cluster in rt.clusters.values():
        rules = cluster.access.over(defaults)
        channels = rules.channels if rules.channels is not None else routed_channels(rt, cluster)
        grants.append(
            ClusterAccess(
                cluster.id,
                cluster.display_name,
                tuple(channels),
                lookup_users=frozenset(rules.lookup_users or ()),
                lookup_groups=frozenset(rules.lookup_groups or ()),
                mute_users=frozenset(rules.mute_users or ()),
                mute_groups=frozenset(rules.mute_groups or ()),
                contact=rules.contact or "",
            )
        )
    if not grants:
        raise AccessSetupError("no cluster is watched: set EHPC_CLUSTERS or list clusters in EHPC_CONFIG")
    return AccessPolicy(clusters=grants, members_of=members_of, contact=defaults.contact or "")


def routed_channels(rt: Runtime, cluster: ClusterConfig) -> tuple[str, ...]:
    """Every Slack channel the cluster's notifications may be routed to, the first route's first."""
    channels: list[str] = []
    for name in cluster_targets(cluster, rt.config):
        if rt.targets[name].type != "slack":
            continue
        try:
            channels.append(rt.scope(target_name=name, cluster_id=cluster.id))
        except TargetSetupError as error:
            raise AccessSetupError(str(error)) from None
    return tuple(dict.fromkeys(channels))
