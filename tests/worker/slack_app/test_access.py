"""Who may look up or mute which cluster: channels by ID or name, users, user groups, default deny."""

from __future__ import annotations

import logging

import pytest

from worker.slack_app.access import AccessPolicy, ClusterAccess, Permission, Requester

CLUSTER = "ehpc-hz-test0001"
OPS = Requester(user_id="U0OPS", channel_id="C0HPCOPS", channel_name="hpc-ops")


def _open_to(channel: str, *cluster_ids: str) -> AccessPolicy:
    """Every cluster belongs to ``channel`` and is open to its members (the env-only setup)."""
    return AccessPolicy(
        clusters=[ClusterAccess(cluster_id, cluster_id, (channel,)) for cluster_id in cluster_ids]
    )


def test_env_only_setup_gives_every_cluster_to_slack_channel() -> None:
    policy = _open_to("C0HPCOPS", CLUSTER, "ehpc-sh-b")
    assert [cluster.cluster_id for cluster in policy.visible(OPS)] == [CLUSTER, "ehpc-sh-b"]
    for permission in Permission:
        assert policy.check(OPS, cluster_id=CLUSTER, permission=permission).allowed


@pytest.mark.parametrize("channel", ["#hpc-ops", "hpc-ops", "C0HPCOPS"])
def test_a_channel_is_matched_by_id_or_name(channel: str) -> None:
    policy = _open_to(channel, CLUSTER)
    assert policy.check(OPS, cluster_id=CLUSTER, permission=Permission.LOOKUP).allowed


def test_other_channels_are_denied_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    policy = _open_to("C0HPCOPS", CLUSTER)
    elsewhere = Requester(user_id="U0OPS", channel_id="C0RANDOM", channel_name="random")
    with caplog.at_level(logging.WARNING, logger="worker.slack_app.access"):
        decision = policy.check(elsewhere, cluster_id=CLUSTER, permission=Permission.LOOKUP)
    assert not decision.allowed
    assert policy.visible(elsewhere) == []
    assert "C0RANDOM" in caplog.text
    assert "does not belong to this channel" in caplog.text


def test_an_unwatched_cluster_is_denied() -> None:
    policy = _open_to("C0HPCOPS", CLUSTER)
    decision = policy.check(OPS, cluster_id="ehpc-hz-other", permission=Permission.LOOKUP)
    assert not decision.allowed
    assert "not one of the clusters" in decision.reason


def test_users_and_user_groups_narrow_muting() -> None:
    groups = {"S0ONCALL": frozenset({"U0ONCALL"})}
    policy = AccessPolicy(
        clusters=[
            ClusterAccess(
                CLUSTER,
                "Prod",
                ("C0HPCOPS",),
                mute_users=frozenset({"U0LEAD"}),
                mute_groups=frozenset({"S0ONCALL"}),
            )
        ],
        members_of=lambda group: groups.get(group, frozenset()),
    )

    def may_mute(user: str) -> bool:
        requester = Requester(user_id=user, channel_id="C0HPCOPS")
        return policy.check(requester, cluster_id=CLUSTER, permission=Permission.MUTE).allowed

    assert may_mute("U0LEAD")
    assert may_mute("U0ONCALL")
    assert not may_mute("U0OPS")
    assert policy.check(OPS, cluster_id=CLUSTER, permission=Permission.LOOKUP).allowed  # lookups stay open


def test_groups_without_a_resolver_deny_and_say_why() -> None:
    policy = AccessPolicy(
        clusters=[ClusterAccess(CLUSTER, "Prod", ("C0HPCOPS",), lookup_groups=frozenset({"S0OPS"}))]
    )
    decision = policy.check(OPS, cluster_id=CLUSTER, permission=Permission.LOOKUP)
    assert not decision.allowed
    assert "Slack would not tell me who is in the user groups allowed to look it up" in decision.reason
    assert decision.ask.groups == ("S0OPS",)
