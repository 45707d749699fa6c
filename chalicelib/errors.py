"""The Lambda side's exception tree.

The split matters because of how Lambda treats an asynchronous (SNS, EventBridge) invocation
that raises: it runs it again up to twice, a minute or two apart. So only a failure that a
later attempt can fix is raised as ``RetryableError``; a configuration problem is raised as
``SettingsError`` or ``AwsCallError`` so it shows in the function's Errors metric; bad input is
never raised at all (the handlers log one line and return, because a retry cannot fix it).
"""

from __future__ import annotations


class PushdeployLambdaError(Exception):
    """Base of every error the Lambda side raises on purpose."""


class SettingsError(PushdeployLambdaError):
    """Stage settings missing or invalid; the message lists every problem at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "pushdeploy settings: " + "; ".join(problems)
            + " (set them in .chalice/config.json stages.<stage>.environment_variables)"
        )
        self.problems = list(problems)


class RetryableError(PushdeployLambdaError):
    """A transient failure: raised so Lambda's asynchronous retry runs the event again."""


class AwsCallError(PushdeployLambdaError):
    """An AWS call failed in a way a retry will not fix (access denied, not found)."""


class RejectedInputError(AwsCallError):
    """AWS refused one call's input (InvalidParameter, message too long): a retry sends the same input and
    is refused again, and the next item of a batch may still go through, so callers may carry on."""
