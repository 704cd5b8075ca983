"""``REDIS_URL``, the one address of the broker and the state: a single Redis, or one that Redis Sentinel
manages.

* ``redis://[[user]:password@]host[:port][/db]`` (``rediss://`` for TLS, ``unix:///path?db=N``): one Redis.
* ``sentinel://[[user]:password@]host[:port][/db];sentinel://host[:port];…``: the sentinels (port 26379 by
  default) of the master named ``REDIS_SENTINEL_MASTER`` (default ``mymaster``). The password and database,
  given on the first address, are the master's; the sentinels themselves are asked without one.

With Sentinel, both clients find the master through the sentinels and follow a failover: Celery's broker
through kombu's ``sentinel://`` transport (``broker_transport_options={"master_name": …}``, see
:func:`worker.celery_app.broker_transport_options`), the state through redis-py's
:class:`redis.sentinel.Sentinel` (:meth:`RedisAddress.client`). Parsing the text once here keeps the two
pointed at the same master. A malformed value is refused when the settings load, naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

__all__ = ["DEFAULT_SENTINEL_MASTER", "SENTINEL_PORT", "RedisAddress"]

DEFAULT_SENTINEL_MASTER = "mymaster"
SENTINEL_PORT = 26379
_SINGLE_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class RedisAddress:
    """Where Redis is: ``url`` as given, plus the sentinels and master name when Sentinel manages it."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str = DEFAULT_SENTINEL_MASTER
    db: int = 0
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str, *, master_name: str = DEFAULT_SENTINEL_MASTER) -> RedisAddress:
        """Read ``REDIS_URL``; ``ValueError`` says what is wrong with it (never showing a password)."""
        parts = [part.strip() for part in url.split(";") if part.strip()]
        if not parts:
            raise ValueError("REDIS_URL is empty")
        schemes = [urlsplit(part).scheme for part in parts]
        if "sentinel" not in schemes:
            if len(parts) > 1:
                raise ValueError("only sentinel:// addresses may be listed with ';'")
            if schemes[0] not in _SINGLE_SCHEMES:
                raise ValueError("REDIS_URL must start with redis://, rediss://, unix:// or sentinel://")
            return cls(url=url)
        if any(scheme != "sentinel" for scheme in schemes):
            raise ValueError("a sentinel:// REDIS_URL lists sentinel:// addresses only")
        if not master_name:
            raise ValueError("REDIS_SENTINEL_MASTER is empty")
        first = urlsplit(parts[0])
        return cls(
            url=url,
            sentinels=tuple(_sentinel(part) for part in parts),
            master_name=master_name,
            db=_database(first.path),
            username=unquote(first.username) if first.username else None,
            password=unquote(first.password) if first.password else None,
        )

    @property
    def sentinel(self) -> bool:
        """True when Sentinel manages this Redis."""
        return bool(self.sentinels)

    def client(self, **options: Any) -> redis.Redis:
        """A client of this Redis (its master, found through the sentinels); ``options`` as for redis-py."""
        if not self.sentinel:
            return redis.Redis.from_url(self.url, **options)
        sentinel_options = {k: v for k, v in options.items() if k.startswith("socket_")}
        # redis-py's Sentinel is untyped; master_for returns a redis.Redis.
        sentinels = Sentinel(list(self.sentinels), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
        master = sentinels.master_for(  # type: ignore[no-untyped-call]
            self.master_name, db=self.db, username=self.username, password=self.password, **options
        )
        return cast("redis.Redis", master)

    def celery_transport_options(self) -> dict[str, Any]:
        """What kombu's transport needs beyond the URL: the master's name with Sentinel, nothing otherwise."""
        return {"master_name": self.master_name} if self.sentinel else {}


def _sentinel(part: str) -> tuple[str, int]:
    address = urlsplit(part)
    try:
        port = address.port or SENTINEL_PORT
    except ValueError:
        raise ValueError(f"bad port in sentinel address {address.hostname or '?'}") from None
    if not address.hostname:
        raise ValueError("a sentinel:// address has no host")
    return address.hostname, port


def _database(path: str) -> int:
    number = path.strip("/") or "0"
    if not number.isdigit():
        raise ValueError(f"the database in REDIS_URL must be a number, not {number!r}")
    return int(number)
