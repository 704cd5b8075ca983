"""Slack user groups resolved to their members (``usergroups.users.list``), cached in Redis with a TTL.

Access rules may name user groups (``S0123…``); the Slack app asks Slack who is in one the first time it
matters and keeps the answer for ``ttl`` seconds, so a busy channel costs one call per group per TTL and
a membership change is seen within it. Every replica shares the cache. When Slack can't answer, nothing
is guessed: :class:`GroupLookupError` (the access policy refuses, saying why).
"""

from __future__ import annotations

import json
import logging

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from worker.store.keys import Keys

__all__ = ["GROUPS_SCOPE", "GroupLookupError", "UserGroups"]

log = logging.getLogger(__name__)

GROUPS_SCOPE = "usergroups:read"  # the bot scope usergroups.users.list needs
DEFAULT_TTL = 300.0


class GroupLookupError(Exception):
    """Slack did not say who is in a user group (missing scope, unknown group, Slack unreachable)."""

    def __init__(self, group_id: str, error: str) -> None:
        self.group_id = group_id
        self.error = error
        hint = f" (the bot token needs the {GROUPS_SCOPE} scope)" if error == "missing_scope" else ""
        super().__init__(f"usergroups.users.list for {group_id} failed: {error}{hint}")


class UserGroups:
    """Members of Slack user groups, through ``client`` (the bot token), cached under ``keys``."""

    def __init__(self, *, client: WebClient, redis_client: redis.Redis, keys: Keys, ttl: float = DEFAULT_TTL):
        self._client = client
        self._redis = redis_client
        self._keys = keys
        self._ttl_ms = max(int(ttl * 1000), 1)

    def members(self, group_id: str) -> frozenset[str]:
        """The user IDs in ``group_id`` (cached); raises :class:`GroupLookupError` when Slack can't say."""
        key = self._keys.usergroup_members(group_id=group_id)
        cached = self._redis.get(key)
        if cached is not None:
            return frozenset(json.loads(cached))
        users = self.ask(group_id)
        self._redis.set(key, json.dumps(sorted(users)), px=self._ttl_ms)
        return users

    def ask(self, group_id: str) -> frozenset[str]:
        """Ask Slack now, bypassing the cache (https://api.slack.com/methods/usergroups.users.list)."""
        try:
            answer = self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            raise GroupLookupError(group_id, str(error.response.get("error") or "error")) from None
        except (SlackClientError, OSError) as error:  # URLError, timeouts: Slack unreachable
            raise GroupLookupError(group_id, type(error).__name__) from None
        return frozenset(str(user) for user in answer.get("users") or [])
