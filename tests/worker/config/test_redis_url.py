"""REDIS_URL: one Redis, or Sentinel's addresses and master name; one reading for broker and state."""

from __future__ import annotations

import pydantic
import pytest

from worker.celery_app import broker_transport_options
from worker.config.redis_url import SENTINEL_PORT, RedisAddress
from worker.config.settings import Settings


def test_a_single_redis_is_taken_as_it_is() -> None:
    address = RedisAddress.parse("redis://:secret@cache:6380/2")

    assert not address.sentinel
    assert address.celery_transport_options() == {}


def test_sentinels_are_listed_with_semicolons_the_first_giving_password_and_database() -> None:
    address = RedisAddress.parse(
        "sentinel://:s%3Bcret@10.0.0.1:26380/3;sentinel://10.0.0.2;sentinel://10.0.0.3:26381",
        master_name="ehpc",
    )

    assert address.sentinels == (("10.0.0.1", 26380), ("10.0.0.2", SENTINEL_PORT), ("10.0.0.3", 26381))
    assert (address.master_name, address.db, address.password) == ("ehpc", 3, "s;cret")
    assert address.celery_transport_options() == {"master_name": "ehpc"}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("http://cache:6379", "must start with"),
        ("redis://a:6379;redis://b:6379", "only sentinel:// addresses may be listed"),
        ("sentinel://a:26379;redis://b:6379", "sentinel:// addresses only"),
        ("sentinel://a:port", "bad port"),
        ("sentinel://a:26379/zero", "must be a number"),
    ],
)
def test_a_malformed_url_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        RedisAddress.parse(url)


def test_settings_refuse_a_bad_url_at_load_without_showing_its_password() -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings(REDIS_URL="sentinel://:hunter22@a:26379;redis://b")  # type: ignore[call-arg]

    assert "sentinel:// addresses only" in str(refused.value)
    assert "hunter22" not in str(refused.value)


def test_the_broker_gets_the_same_master_name_as_the_state_client() -> None:
    settings = Settings(  # type: ignore[call-arg]
        REDIS_URL="sentinel://a:26379;sentinel://b:26379", REDIS_SENTINEL_MASTER="ehpc-prod"
    )

    assert settings.redis.master_name == "ehpc-prod"
    assert broker_transport_options(settings)["master_name"] == "ehpc-prod"
