"""Reading docker-compose.yml and .env.example as Docker Compose would, for the deployment tests.

Only what our files use: YAML with merge keys, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and
``$$`` interpolation, and ``KEY=value`` env files with ``#`` comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["COMPOSE_FILE", "ENV_EXAMPLE", "ROOT", "interpolate", "load_compose", "read_env_file", "variables"]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The file as parsed YAML, before interpolation (merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=value`` lines; comments and blank lines skipped."""
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def variables(path: Path = COMPOSE_FILE) -> set[str]:
    """Every variable name the file interpolates."""
    return {match["name"] for match in _VARIABLE.finditer(path.read_text(encoding="utf-8")) if match["name"]}


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        value = env.get(match["name"])
        if match["op"] == ":-" and not value:
            return str(match["default"])
        if match["op"] == "-" and value is None:
            return str(match["default"])
        return value or ""

    return _VARIABLE.sub(one, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """``node`` with every string value interpolated from ``env`` (keys are left alone, as Compose does)."""
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node
