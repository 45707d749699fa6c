"""Resource and NotResource: which resources a statement covers (ARNs compare case-sensitively)."""

from __future__ import annotations

import pytest

from tests.iam.iam_cases import ACCOUNT, QUEUE, allowed, policy, stmt

GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn"


@pytest.mark.parametrize(("resources", "resource", "expected"), [
    (QUEUE, QUEUE, True),
    (QUEUE, QUEUE + "-dlq", False),
    (QUEUE, QUEUE.replace("build", "Build"), False),
    ("*", QUEUE, True),
    (f"arn:aws:sqs:*:{ACCOUNT}:build", QUEUE, True),
    (f"arn:aws:sqs:us-east-1:{ACCOUNT}:bui?d", QUEUE, True),
    ([f"arn:aws:sqs:us-east-1:{ACCOUNT}:other", QUEUE], QUEUE, True),
    (GROUP + ":*", GROUP + ":log-stream:2026/11/30/abc", True),  # a wildcard spans colons in Resource
    (GROUP, GROUP + ":log-stream:x", False),
    (f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/*", f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/c/web", True),
])
def test_resource_selects_the_resources(resources, resource, expected) -> None:
    assert allowed([policy(stmt(Resource=resources))], on=resource) is expected


def test_not_resource_covers_every_other_resource() -> None:
    rules = [policy(stmt(NotResource=QUEUE))]
    assert allowed(rules, on=QUEUE + "-dlq")
    assert not allowed(rules, on=QUEUE)


def test_a_deny_on_not_resource_fences_everything_but_the_named_resource() -> None:
    rules = [policy(stmt(Resource="*"), stmt("Deny", NotResource=[QUEUE]))]
    assert allowed(rules, on=QUEUE)
    assert not allowed(rules, on=QUEUE + "-dlq")


def test_an_identity_statement_without_resource_is_an_error() -> None:
    from localrig.iam.iam_eval import PolicyError

    with pytest.raises(PolicyError, match="Resource"):
        allowed([policy({"Effect": "Allow", "Action": "sqs:SendMessage"})])
