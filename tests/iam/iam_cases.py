"""Small builders shared by the evaluator's tests: one statement, one policy, one request."""

from __future__ import annotations

from typing import Any

from localrig.iam.iam_eval import Decision, Request, evaluate

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/i-0abc"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:build"


def stmt(effect: str = "Allow", **elements: Any) -> dict[str, Any]:
    found = {"Effect": effect, **elements}
    if "Action" not in found and "NotAction" not in found:
        found["Action"] = "sqs:SendMessage"
    if "Resource" not in found and "NotResource" not in found and "Principal" not in found \
            and "NotPrincipal" not in found:
        found["Resource"] = QUEUE
    return found


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def decide(identity: list[dict[str, Any]], resource: dict[str, Any] | None = None, *, principal: str = ROLE,
           action: str = "sqs:SendMessage", on: str = QUEUE, context: dict[str, Any] | None = None) -> Decision:
    return evaluate(identity, resource, Request(principal, action, on, context or {}))


def allowed(identity: list[dict[str, Any]], resource: dict[str, Any] | None = None, **kwargs: Any) -> bool:
    return decide(identity, resource, **kwargs).allowed
