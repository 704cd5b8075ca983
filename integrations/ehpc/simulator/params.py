"""What every simulated action shares: the handler signature and the parameter rules of the cloud."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from integrations.ehpc.simulator.errors import ApiError
from integrations.ehpc.simulator.model import Model

__all__ = ["ActionHandler", "boolean_param", "integer_param"]


class ActionHandler(Protocol):
    """Answers one action: the JSON body of a 200, or :class:`ApiError`."""

    def __call__(self, model: Model, params: Mapping[str, str], *, request_id: str) -> dict[str, Any]: ...


def integer_param(params: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    """An integer within ``low..high``, ``default`` when absent, else ``InvalidParams``."""
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("InvalidParams", name) from None
    if not low <= value <= high:
        raise ApiError("InvalidParams", name)
    return value


def boolean_param(params: Mapping[str, str], name: str, *, default: bool) -> bool:
    """``true`` / ``false`` in any letter case (the SDK sends ``True``), else ``InvalidParams``."""
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in {"true", "false"}:
        raise ApiError("InvalidParams", name)
    return raw.lower() == "true"
