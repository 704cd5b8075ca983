"""Every error the simulated E-HPC answers: code → HTTP status and message, and the body it is sent in.

The E-HPC table comes from the ListTasks page, the platform's common errors (signature, credentials,
throttling) from ``ehpc-wire.md``. A body is always
``{"RequestId", "HostId", "Code", "Message", "Recommend"}``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["ERRORS", "ApiError", "ErrorSpec", "error_body", "new_request_id"]


@dataclass(frozen=True)
class ErrorSpec:
    """How the cloud answers one error code; ``message`` may hold one ``%s`` for a detail."""

    status: int
    message: str


ERRORS: dict[str, ErrorSpec] = {
    # E-HPC's own (ListTasks page)
    "InvalidParams": ErrorSpec(400, "Invalid param: %s"),
    "MissingClusterId": ErrorSpec(400, "ClusterId is mandatory for this action."),
    # the 2024-07-30 API's required parameters (the gateway's usual Missing<Name> form)
    "MissingFrom": ErrorSpec(400, "From is mandatory for this action."),
    "MissingTo": ErrorSpec(400, "To is mandatory for this action."),
    "MissingLogRequestId": ErrorSpec(400, "LogRequestId is mandatory for this action."),
    "NotEnabled": ErrorSpec(400, "You have not enabled this service"),
    "ClusterNotFound": ErrorSpec(404, "The specified cluster does not exist."),
    "DbError": ErrorSpec(406, "A database service error occurred."),
    "RedisError": ErrorSpec(406, "A Redis service error occurred."),
    "NotAuthorized": ErrorSpec(407, "You are not authorized by RAM for this request."),
    "UnknownError": ErrorSpec(500, "An unknown error occurred."),
    "ServiceUnavailable": ErrorSpec(503, "The request has failed due to a temporary failure of the server."),
    # the platform's common errors
    "Throttling": ErrorSpec(400, "Request was denied due to request throttling."),
    "Throttling.User": ErrorSpec(400, "Request was denied due to user flow control."),
    "Throttling.Api": ErrorSpec(400, "Request was denied due to api flow control."),
    "InvalidAccessKeyId.NotFound": ErrorSpec(404, "Specified access key is not found."),
    "SignatureDoesNotMatch": ErrorSpec(
        400, "Specified signature is not matched with our calculation. server string to sign is:%s"
    ),
    "IncompleteSignature": ErrorSpec(400, "The request signature does not conform to Aliyun standards. %s"),
    "InvalidTimeStamp.Expired": ErrorSpec(400, "Specified time stamp or date value is expired."),
    "InvalidTimeStamp.Format": ErrorSpec(400, "Specified time stamp or date value is not well formatted."),
    "SignatureNonceUsed": ErrorSpec(400, "Specified signature nonce was used already."),
    "InvalidSecurityToken.MismatchWithAccessKey": ErrorSpec(
        400, "Specified SecurityToken mismatch with the AccessKey."
    ),
    "InvalidAction.NotFound": ErrorSpec(404, "Specified api is not found, please check your url and method."),
    "InvalidVersion": ErrorSpec(400, "Specified parameter Version is not valid."),
}


class ApiError(Exception):
    """An answer with an error body; ``detail`` fills the message's ``%s`` (empty when absent)."""

    def __init__(self, code: str, detail: str = "") -> None:
        spec = ERRORS[code]
        self.code = code
        self.status = spec.status
        self.message = spec.message.replace("%s", detail).rstrip() if "%s" in spec.message else spec.message
        super().__init__(f"{code}: {self.message}")


def new_request_id() -> str:
    """A RequestId as the cloud writes them: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def error_body(error: ApiError, *, request_id: str, host_id: str) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=EHPC",
    }
