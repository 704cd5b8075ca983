"""Both signing styles against the test vectors of ehpc-wire.md, and the Authorization header parser."""

from __future__ import annotations

import pytest

from integrations.ehpc.simulator.signature import (
    InvalidAuthorizationError,
    canonical_query,
    parse_authorization,
    percent_encode,
    sha256_hex,
    v1_signature,
    v1_string_to_sign,
    v3_signature,
    v3_string_to_sign,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
QUERY = {"Archived": "True", "ClusterId": "ehpc-hz-FYUr32xxxx", "PageSize": "10"}
HEADERS = {
    "host": "ehpc.cn-hangzhou.aliyuncs.com",
    "x-acs-action": "ListTasks",
    "x-acs-version": "2018-04-12",
    "x-acs-date": "2024-01-01T00:00:00Z",
    "x-acs-signature-nonce": "3ee8c1b883d344afa94f4e0ad82fd6cf",
    "x-acs-content-sha256": EMPTY_SHA256,
}


def test_v3_vector() -> None:
    string_to_sign = v3_string_to_sign(
        method="GET",
        path="/",
        query=QUERY,
        headers=HEADERS,
        signed_headers=tuple(HEADERS),
        hashed_payload=sha256_hex(b""),
    )
    assert string_to_sign == (
        "ACS3-HMAC-SHA256\ne65340a506ad61051cf0acbc63ba24882025e1e1701e00cd623c283ab6137738"
    )
    assert (
        v3_signature(secret="testSecret", string_to_sign=string_to_sign)
        == "f9f78235ebac61b56ba83f1b7296bff14e7ecc873c7dbb649eeb91fc2e6be2fd"
    )


def test_v1_vector() -> None:
    params = {
        **QUERY,
        "Action": "ListTasks",
        "Version": "2018-04-12",
        "Format": "json",
        "Timestamp": "2024-01-01T00:00:00Z",
        "SignatureNonce": "3ee8c1b883d344afa94f4e0ad82fd6cf",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": "testAccessKeyId",
        "Signature": "ignored when signing",
    }
    string_to_sign = v1_string_to_sign(method="GET", params=params)
    assert "Timestamp%3D2024-01-01T00%253A00%253A00Z" in string_to_sign  # double encoding
    assert v1_signature(secret="testSecret", string_to_sign=string_to_sign) == "qpQ3/Mc/3gLNVWqQXVHMKJYdeXs="


def test_rfc3986_encoding() -> None:
    assert percent_encode("a b*c/d~e-f_g.h") == "a%20b%2Ac%2Fd~e-f_g.h"
    assert canonical_query({"b": "", "a": "x y"}) == "a=x%20y&b="


def test_parse_authorization() -> None:
    auth = parse_authorization("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=abc")
    assert (auth.access_key_id, auth.signed_headers, auth.signature) == ("AK", ("host", "x-acs-date"), "abc")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "HMAC-SHA1 Credential=AK,SignedHeaders=host,Signature=abc",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=",
        "ACS3-HMAC-SHA256 Credential=AK;SignedHeaders",
    ],
)
def test_parse_authorization_refuses_incomplete_headers(header: str) -> None:
    with pytest.raises(InvalidAuthorizationError):
        parse_authorization(header)
