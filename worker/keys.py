"""Every Redis key ehpc-bridge uses, built here from one prefix so deployments can share a Redis.

Other modules never format a key themselves: they ask :class:`Keys`. Add a method here (keep them grouped
by the module that owns the data) rather than building a string elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True)
class Keys:
    """Key names under ``prefix`` (``EHPC_REDIS_PREFIX``, default ``ehpc``)."""

    prefix: str = "ehpc"

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))
