"""The stand-in's workspace beyond channels: user groups (``usergroups.users.list``) and App Home views.

Kept apart from :mod:`integrations.slack.standin.server` (messages and channels): tests declare user
groups with :meth:`Workspace.add_usergroup`, and read what the app published to a user's Home tab with
:meth:`Workspace.home_view`. A token containing ``no-usergroups`` answers ``missing_scope`` to
``usergroups.users.list``, as Slack does for a bot token without ``usergroups:read``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["Workspace", "WorkspaceError"]


class WorkspaceError(Exception):
    """A Slack error code for the caller (``no_such_subteam``, ``missing_scope`` …)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Workspace:
    """User groups and published Home views, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[str, ...]] = {}
        self._homes: dict[str, dict[str, Any]] = {}
        self.group_calls = 0

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        """Declare (or replace) user group ``group_id`` with these members."""
        with self._lock:
            self._groups[group_id] = tuple(users)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The view last published to ``user_id``'s App Home, if any."""
        with self._lock:
            return self._homes.get(user_id)

    def usergroup_users(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        """``usergroups.users.list``: the group's member IDs."""
        if "no-usergroups" in token:
            raise WorkspaceError("missing_scope")
        with self._lock:
            self.group_calls += 1
            users = self._groups.get(str(params.get("usergroup", "")))
        if users is None:
            raise WorkspaceError("no_such_subteam")
        return {"users": list(users)}

    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        """``views.publish``: keep the Home view for the user."""
        user_id, view = params.get("user_id"), params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise WorkspaceError("invalid_arguments") from None
        if not user_id or not isinstance(view, dict) or view.get("type") != "home":
            raise WorkspaceError("invalid_arguments")
        with self._lock:
            self._homes[str(user_id)] = view
        return {"view": {"id": "V0STANDIN", **view}}
