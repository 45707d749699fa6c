"""Action and NotAction: which calls a statement is about (IAM compares actions case-insensitively)."""

from __future__ import annotations

import pytest

from tests.iam.iam_cases import allowed, policy, stmt


@pytest.mark.parametrize(("actions", "action", "expected"), [
    ("sqs:SendMessage", "sqs:SendMessage", True),
    ("sqs:SendMessage", "sqs:sendmessage", True),
    ("SQS:SENDMESSAGE", "sqs:SendMessage", True),
    ("sqs:SendMessage", "sqs:SendMessageBatch", False),
    (["sqs:ReceiveMessage", "sqs:SendMessage"], "sqs:SendMessage", True),
    ("sqs:Send*", "sqs:SendMessage", True),
    ("sqs:*Message", "sqs:DeleteMessage", True),
    ("sqs:Get?ueueUrl", "sqs:GetQueueUrl", True),
    ("sqs:*", "sns:Publish", False),
    ("*", "ec2:StartInstances", True),
])
def test_action_selects_the_calls(actions, action, expected) -> None:
    assert allowed([policy(stmt(Action=actions, Resource="*"))], action=action) is expected


@pytest.mark.parametrize(("not_actions", "action", "expected"), [
    ("sqs:DeleteQueue", "sqs:SendMessage", True),
    ("sqs:DeleteQueue", "sqs:DeleteQueue", False),
    (["sqs:Delete*", "sns:*"], "sns:Publish", False),
    (["sqs:Delete*", "sns:*"], "sqs:ReceiveMessage", True),
])
def test_not_action_selects_every_other_call(not_actions, action, expected) -> None:
    assert allowed([policy(stmt(NotAction=not_actions, Resource="*"))], action=action) is expected


def test_a_deny_with_not_action_denies_everything_else() -> None:
    rules = [policy(stmt(Action="*", Resource="*"), stmt("Deny", NotAction="sqs:ReceiveMessage", Resource="*"))]
    assert allowed(rules, action="sqs:ReceiveMessage")
    assert not allowed(rules, action="sqs:SendMessage")
