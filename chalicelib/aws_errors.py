"""Sort botocore failures into "retry later" and "fix the configuration".

Kept apart from errors.py so that importing the exception tree does not import botocore.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from chalicelib.errors import AwsCallError, PushdeployLambdaError, RejectedInputError, RetryableError

_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "RequestLimitExceeded", "TooManyRequestsException",
    "RequestThrottled", "ServiceUnavailable", "InternalError", "InternalFailure", "InternalServerError",
    "KMSThrottlingException", "IncorrectInstanceState",
})
# The input itself was refused (SNS: "Invalid parameter: Message too long", a bad Subject): a retry cannot help.
_REJECTED_INPUT_CODES = frozenset({
    "InvalidParameter", "InvalidParameterValue", "InvalidParameterException", "ValidationError",
    "ValidationException",
})


def classify(exc: Exception, doing: str) -> PushdeployLambdaError:
    """The error to raise (``from exc``) when ``doing`` failed with a botocore exception."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = str(exc.response.get("Error", {}).get("Message", ""))[:300]
        if code in _TRANSIENT_CODES or status >= 500:
            return RetryableError(f"{doing} failed ({code}); Lambda will retry")
        if code in _REJECTED_INPUT_CODES:
            return RejectedInputError(f"{doing} failed: {code}: {message}")
        return AwsCallError(f"{doing} failed: {code}: {message}")
    if isinstance(exc, ParamValidationError):  # botocore refused the input before sending it
        return RejectedInputError(f"{doing} failed: {str(exc)[:300]}")
    if isinstance(exc, BotoCoreError):
        return RetryableError(f"{doing} failed ({type(exc).__name__}); Lambda will retry")
    raise TypeError(f"not a botocore exception: {exc!r}")


AWS_EXCEPTIONS = (BotoCoreError, ClientError)
