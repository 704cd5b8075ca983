"""The ``EHPC_CONFIG`` YAML file: clusters, named targets and ordered routes, validated at load.

Example (every key is documented in docs/integrations.md)::

    clusters:
      - {id: ehpc-hz-prod01, name: prod, region: cn-hangzhou, labels: {env: prod}}
      - {id: ehpc-hz-next01, api: 2024-07-30}     # E-HPC 2.0; `auto` asks the 2024 API once
    targets:
      - {name: oncall, type: pagerduty, routing_key_env: PD_ROUTING_KEY}
    routes:
      - {match: {kinds: [finished], labels: {env: prod}}, targets: [oncall], continue: true}
      - {targets: [slack]}
    default_targets: [slack]

Why it is strict: a typo in a routing file silently drops pages. So unknown fields, unknown target types,
duplicate names, duplicate YAML keys, routes naming unknown targets or clusters, and secrets whose
environment variable is unset are all load errors, reported together, each as ``file:line: field: what``.
Line numbers come from :mod:`worker.config.locator`, matched to pydantic's error locations.

A target named ``slack`` (type ``slack``) exists even when the file does not declare it, and without
``routes`` and ``default_targets`` everything goes to it: the env-only setup
(:meth:`BridgeConfig.from_env_defaults`) is exactly that.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from integrations.base import TransitionKind
from integrations.ehpc.task import TaskStatus, TaskType
from integrations.registry import REGISTRY
from integrations.target import SlackTarget, TargetConfig
from worker.config.locator import Loc, YamlLocator, YamlSyntaxError, parse_yaml
from worker.config.settings import ApiChoice

__all__ = [
    "DEFAULT_TARGET",
    "BridgeConfig",
    "ClusterConfig",
    "ConfigError",
    "Route",
    "RouteMatch",
    "SlackAccessConfig",
    "UnknownNameError",
    "load_config",
]

DEFAULT_TARGET = "slack"


class ConfigError(ValueError):
    """The configuration file is unusable; ``problems`` holds one ``file:line: field: what`` per issue."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{path}: {count}:\n" + "\n".join(f"  {p}" for p in self.problems))


class UnknownNameError(KeyError):
    """A target or cluster name the configuration does not have (a KeyError, as a mapping lookup is)."""


# Slack IDs as Slack spells them (users U…/W…, user groups S…, channels C…/G…), or a channel's name.
SlackUserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,}$")]
SlackGroupId = Annotated[str, StringConstraints(pattern=r"^S[A-Z0-9]{2,}$")]
SlackChannelRef = Annotated[
    str, StringConstraints(pattern=r"^(?:[CG][A-Z0-9]{2,}|#?[a-z0-9][a-z0-9._-]{0,79})$")
]


class SlackAccessConfig(BaseModel):
    """Who may use ``/ehpc`` on a cluster: where it may be looked up, who may look it up, who may mute it.

    Given at the top level (``access:``, the defaults) and per cluster (``clusters[].access``). Unset
    (None) inherits the defaults; per permission, a cluster that names users or groups replaces both of
    the defaults' lists (an explicit ``[]`` for both opens it to everyone in its channels). ``channels``
    unset means every channel the cluster's notifications are routed to, on any Slack target.
    ``contact`` is whom a refusal tells people to ask (free text, shown escaped).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[SlackChannelRef, ...] | None = None
    lookup_users: tuple[SlackUserId, ...] | None = None
    lookup_groups: tuple[SlackGroupId, ...] | None = None
    mute_users: tuple[SlackUserId, ...] | None = None
    mute_groups: tuple[SlackGroupId, ...] | None = None
    contact: str | None = Field(default=None, min_length=1, max_length=200)

    def over(self, defaults: SlackAccessConfig) -> SlackAccessConfig:
        """These rules with what they leave unset taken from ``defaults``."""
        lookup = (self.lookup_users, self.lookup_groups)
        mute = (self.mute_users, self.mute_groups)
        if lookup == (None, None):
            lookup = (defaults.lookup_users, defaults.lookup_groups)
        if mute == (None, None):
            mute = (defaults.mute_users, defaults.mute_groups)
        return SlackAccessConfig(
            channels=self.channels if self.channels is not None else defaults.channels,
            lookup_users=lookup[0],
            lookup_groups=lookup[1],
            mute_users=mute[0],
            mute_groups=mute[1],
            contact=self.contact or defaults.contact,
        )

    @property
    def groups(self) -> frozenset[str]:
        """Every user group these rules name (``check`` resolves each)."""
        return frozenset((*(self.lookup_groups or ()), *(self.mute_groups or ())))


class ClusterConfig(BaseModel):
    """One watched cluster; unset values fall back to the environment's (``EHPC_POLL_INTERVAL`` …)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^\S+$")
    name: str | None = None
    region: str | None = None
    poll_interval: float | None = Field(default=None, gt=0)
    slack_channel: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    announce_running_on_baseline: bool | None = None
    access: SlackAccessConfig = Field(default_factory=SlackAccessConfig)
    api: ApiChoice | None = None  # None: EHPC_API (default 2018-04-12)

    @field_validator("api", mode="before")
    @classmethod
    def _api_as_written(cls, value: object) -> object:
        """YAML reads an unquoted ``2024-07-30`` as a date; the user meant the API version."""
        return value.isoformat() if isinstance(value, date) else value

    @property
    def display_name(self) -> str:
        """The name people read: ``name``, else the id."""
        return self.name or self.id


class RouteMatch(BaseModel):
    """Conditions a transition must meet; every given one must hold, an empty list means any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clusters: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    task_types: tuple[TaskType, ...] = ()
    statuses: tuple[TaskStatus, ...] = ()
    kinds: tuple[TransitionKind, ...] = ()


class Route(BaseModel):
    """One rule: when ``match`` holds, send to ``targets``; stop there unless ``continue`` is true."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    match: RouteMatch = Field(default_factory=RouteMatch)
    targets: tuple[str, ...]  # empty: matching transitions go nowhere (a silencing rule)
    continue_: bool = Field(default=False, alias="continue")


class BridgeConfig(BaseModel):
    """The whole routing picture: clusters, targets by name, ordered routes, and the default targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clusters: tuple[ClusterConfig, ...] = ()
    targets: tuple[TargetConfig, ...] = (SlackTarget(name=DEFAULT_TARGET),)
    routes: tuple[Route, ...] = ()
    default_targets: tuple[str, ...] = (DEFAULT_TARGET,)
    access: SlackAccessConfig = Field(default_factory=SlackAccessConfig)
    source: Path | None = None

    @classmethod
    def from_env_defaults(cls, *, cluster_ids: Iterable[str]) -> BridgeConfig:
        """The env-only setup (``EHPC_CLUSTERS``): those clusters, everything to the Slack target.

        The Slack channel stays unset on the target, so the worker's ``SLACK_CHANNEL`` applies.
        """
        return cls(clusters=tuple(ClusterConfig(id=cluster_id) for cluster_id in cluster_ids))

    def target(self, name: str) -> TargetConfig:
        """The target called ``name``; :class:`UnknownNameError` if there is none."""
        for target in self.targets:
            if target.name == name:
                return target
        raise UnknownNameError(f"no target named {name!r}")

    def cluster(self, cluster_id: str) -> ClusterConfig | None:
        """The cluster ``cluster_id`` as configured, or None when the file does not list it."""
        return next((cluster for cluster in self.clusters if cluster.id == cluster_id), None)


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> BridgeConfig:
    """Read and validate ``path``; secrets are read from ``environ`` (default: the process environment).

    Raises :class:`ConfigError` listing every problem found, each with its file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        document = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ConfigError(path, [f"{path}:{exc.line}: not valid YAML: {exc}"]) from None
    checker = _Checker(path=path, locator=document.locator)
    data = document.data
    config = checker.validate(data, environ=os.environ if environ is None else environ)
    if checker.problems or config is None:
        raise ConfigError(path, checker.problems)
    return config


class _Checker:
    """Collects problems, each located in the file through the YAML node tree."""

    def __init__(self, *, path: Path, locator: YamlLocator) -> None:
        self.path = path
        self._locator = locator
        self._found: list[tuple[int, str]] = []
        for loc, line in locator.duplicate_keys():
            self.add(loc, "duplicate key", line=line)

    @property
    def problems(self) -> list[str]:
        """Every problem as ``file:line: field: what``, in file order."""
        return [f"{self.path}:{line}: {text}" for line, text in sorted(self._found)]

    def add(self, loc: Loc, message: str, *, line: int | None = None) -> None:
        """Record ``message`` about the value at ``loc`` (its line found in the node tree)."""
        field = ".".join(str(part) for part in loc) or "(file)"
        self._found.append((line or self._locator.line(loc), f"{field}: {message}"))

    def validate(self, data: object, *, environ: Mapping[str, str]) -> BridgeConfig | None:
        """Validate ``data``; returns None (and records why) when anything is wrong."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.add((), "the file must be a mapping with clusters, targets, routes")
            return None
        self._cross_references(data)
        if not isinstance(data.get("targets") or [], list):
            self.add(("targets",), "must be a list of targets")
        targets = [
            target
            for index, raw in enumerate(_list(data.get("targets")))
            if (target := self._target(index, raw, environ)) is not None
        ]
        if not any(target.name == DEFAULT_TARGET for target in targets):
            targets.append(SlackTarget(name=DEFAULT_TARGET))
        try:
            config = BridgeConfig.model_validate(
                {**data, "targets": targets, "source": self.path}, context={"environ": environ}
            )
        except ValidationError as exc:
            self._pydantic(exc, ())
            return None
        return config

    def _target(self, index: int, raw: object, environ: Mapping[str, str]) -> TargetConfig | None:
        loc: Loc = ("targets", index)
        if not isinstance(raw, dict):
            self.add(loc, "must be a mapping with name and type")
            return None
        type_name = raw.get("type")
        if not isinstance(type_name, str):
            self.add(loc, f"type is required (one of: {', '.join(REGISTRY.types)})")
            return None
        try:
            model = REGISTRY.model_for(type_name)
        except KeyError as exc:
            self.add((*loc, "type"), str(exc.args[0]))
            return None
        try:
            return model.model_validate(raw, context={"environ": environ})
        except ValidationError as exc:
            self._pydantic(exc, loc)
            return None

    def _cross_references(self, data: dict[str, Any]) -> None:
        """Names that must be unique or must exist, checked on the raw data so they always run."""
        counts = self._unique(data, "targets", "name", what="target name")
        id_counts = self._unique(data, "clusters", "id", what="cluster id")
        known = {*counts, DEFAULT_TARGET}
        hint = f"(known: {', '.join(sorted(known))})"
        for index, route in enumerate(_list(data.get("routes"))):
            if not isinstance(route, dict):
                continue
            for position, name in enumerate(_list(route.get("targets"))):
                if isinstance(name, str) and name not in known:
                    self.add(("routes", index, "targets", position), f"unknown target {name!r} {hint}")
            match = route.get("match")
            for position, cluster_id in enumerate(
                _list(match.get("clusters") if isinstance(match, dict) else None)
            ):
                if id_counts and cluster_id not in id_counts:
                    self.add(
                        ("routes", index, "match", "clusters", position), f"unknown cluster {cluster_id!r}"
                    )
        for position, name in enumerate(_list(data.get("default_targets"))):
            if isinstance(name, str) and name not in known:
                self.add(("default_targets", position), f"unknown target {name!r} {hint}")

    def _unique(self, data: dict[str, Any], section: str, field: str, *, what: str) -> Counter[str]:
        """Count ``field`` across the ``section`` list, recording each value that occurs twice."""
        values = [raw.get(field) if isinstance(raw, dict) else None for raw in _list(data.get(section))]
        counts = Counter(value for value in values if isinstance(value, str))
        for index, value in enumerate(values):
            if isinstance(value, str) and counts[value] > 1:
                self.add((section, index, field), f"duplicate {what} {value!r}")
        return counts

    def _pydantic(self, exc: ValidationError, prefix: Loc) -> None:
        for error in exc.errors(include_url=False):
            loc = (*prefix, *error["loc"])
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            self.add(loc, message.removeprefix("Value error, "))


def _list(value: object) -> list[Any]:
    """``value`` if it is a list, else empty (its type error is reported by validation)."""
    return value if isinstance(value, list) else []
