"""What both E-HPC clients share: the endpoint, the credentials and the SDK configuration they sign with.

The 2018-04-12 client (:mod:`integrations.ehpc.client`) and the 2024-07-30 one
(:mod:`integrations.ehpc.client2024`) are built on the same ``alibabacloud_tea_openapi`` configuration:
explicit keys or the standard credential chain, ``EHPC_ENDPOINT``'s forms, SDK retries off (the Celery
task owns the back-off), and a credential tap that remembers the secrets handed out so that error text
can be scrubbed of them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig
from alibabacloud_credentials.models import CredentialModel
from alibabacloud_tea_openapi.utils_models import Config as SdkConfig
from darabonba.policy.retry import RetryOptions
from pydantic import SecretStr

from integrations.ehpc.errors import redact_http_logs

__all__ = ["Connection", "CredentialTap", "connect", "parse_endpoint"]


class CredentialTap:
    """The credential client the SDK signs with, remembering the secrets it handed out.

    Error text is scrubbed of those secrets even when they came from the standard chain (an ECS RAM role's
    rotating STS token, say); only the last few are kept, which covers every request still in flight.
    """

    def __init__(self, inner: CredentialClient) -> None:
        self._inner = inner
        self._recent: deque[str] = deque(maxlen=8)

    def get_credential(self) -> CredentialModel:
        """What the SDK calls before signing each request."""
        model = self._inner.get_credential()
        self._remember(model)
        return model

    async def get_credential_async(self) -> CredentialModel:
        """The SDK's async twin; ehpc-bridge is synchronous, but the SDK may look for it."""
        model = await self._inner.get_credential_async()
        self._remember(model)
        return model

    def secrets(self) -> tuple[str, ...]:
        """The secrets handed out lately, for scrubbing."""
        return tuple(self._recent)

    def _remember(self, model: CredentialModel) -> None:
        for value in (model.access_key_secret, model.security_token, model.bearer_token):
            if isinstance(value, str) and value and value not in self._recent:
                self._recent.append(value)


@dataclass(frozen=True)
class Connection:
    """An SDK configuration ready for either API version's client, and what the client keeps of it."""

    config: SdkConfig
    credentials: CredentialTap
    endpoint: str  # scheme://host[:port], for repr and logs


def connect(
    *,
    region: str,
    endpoint: str | None,
    access_key_id: str | None,
    access_key_secret: SecretStr | str | None,
    security_token: SecretStr | str | None,
    connect_timeout_ms: int,
    read_timeout_ms: int,
    signature_algorithm: str | None,
) -> Connection:
    """The SDK configuration: explicit keys when given, else the standard chain; no SDK retries."""
    host, protocol = parse_endpoint(endpoint, region=region)
    redact_http_logs()
    credentials = CredentialTap(
        _credential_client(
            access_key_id=access_key_id,
            access_key_secret=_reveal(access_key_secret),
            security_token=_reveal(security_token),
        )
    )
    config = SdkConfig(
        credential=credentials,
        region_id=region,
        endpoint=host,
        protocol=protocol,
        connect_timeout=connect_timeout_ms,
        read_timeout=read_timeout_ms,
        signature_algorithm=signature_algorithm,
        retry_options=RetryOptions({"retryable": False}),
    )
    return Connection(config=config, credentials=credentials, endpoint=f"{protocol}://{host}")


def _reveal(value: SecretStr | str | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _credential_client(
    *, access_key_id: str | None, access_key_secret: str | None, security_token: str | None
) -> CredentialClient:
    """A static AccessKey (or STS) credential when keys are given, else the SDK's standard chain."""
    if not access_key_id and not access_key_secret:
        return CredentialClient()
    if not (access_key_id and access_key_secret):
        raise ValueError("give both access_key_id and access_key_secret, or neither (standard chain)")
    return CredentialClient(
        CredentialConfig(
            type="sts" if security_token else "access_key",
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
        )
    )


def parse_endpoint(endpoint: str | None, *, region: str) -> tuple[str, str]:
    """``(host[:port], protocol)`` from ``EHPC_ENDPOINT``'s forms."""
    if not endpoint:
        return f"ehpc.{region}.aliyuncs.com", "https"
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
    ):
        raise ValueError(f"EHPC endpoint must be a host, https://host or http://host:port, not {endpoint!r}")
    return parts.netloc, parts.scheme
