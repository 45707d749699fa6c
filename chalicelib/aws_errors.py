"""Sort botocore failures into "retry later" and "fix the configuration".

Kept apart from errors.py so that importing the exception tree does not import botocore.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import AwsCallError, PushdeployLambdaError, RetryableError

_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "RequestLimitExceeded", "TooManyRequestsException",
    "RequestThrottled", "ServiceUnavailable", "InternalError", "InternalFailure", "InternalServerError",
    "KMSThrottlingException", "IncorrectInstanceState",
})


def classify(exc: Exception, doing: str) -> PushdeployLambdaError:
    """The error to raise (``from exc``) when ``doing`` failed with a botocore exception."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRANSIENT_CODES or status >= 500:
            return RetryableError(f"{doing} failed ({code}); Lambda will retry")
        return AwsCallError(f"{doing} failed: {code}: {exc.response.get('Error', {}).get('Message', '')}")
    if isinstance(exc, BotoCoreError):
        return RetryableError(f"{doing} failed ({type(exc).__name__}); Lambda will retry")
    raise TypeError(f"not a botocore exception: {exc!r}")


AWS_EXCEPTIONS = (BotoCoreError, ClientError)
