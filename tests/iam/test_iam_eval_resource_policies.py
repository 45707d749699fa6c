"""Resource-based policies and how they combine with identity policies: the table of AWS's documented
evaluation logic (same account: either policy suffices, unless the resource policy names only the account;
cross-account: both must allow; an explicit Deny in either wins), and the Principal forms."""

from __future__ import annotations

from typing import Any

import pytest

from localrig.iam.iam_eval import Principal, principal_match
from tests.iam.iam_cases import ACCOUNT, OTHER_ACCOUNT, QUEUE, ROLE, SESSION, allowed, decide, policy, stmt

OTHER_ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/worker"
IDENTITY_ALLOWS = [policy(stmt())]


def grant(principal: Any) -> dict[str, Any]:
    return policy(stmt(Principal=principal, Resource=QUEUE))


@pytest.mark.parametrize(("identity", "resource", "expected"), [
    # same account (IAM User Guide: policy evaluation for requests within a single account)
    ([], None, False),
    ([], grant({"AWS": ROLE}), True),
    ([], grant({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), False),  # the account principal delegates to IAM
    ([], grant({"AWS": ACCOUNT}), False),
    (IDENTITY_ALLOWS, None, True),
    (IDENTITY_ALLOWS, grant({"AWS": ROLE}), True),
    (IDENTITY_ALLOWS, grant({"AWS": ACCOUNT}), True),
    ([], grant("*"), True),
    ([], grant({"AWS": "*"}), True),
])
def test_same_account_either_policy_suffices(identity, resource, expected: bool) -> None:
    assert allowed(identity, resource, principal=SESSION) is expected


@pytest.mark.parametrize(("identity", "resource", "expected"), [
    # cross-account (IAM User Guide: cross-account policy evaluation logic)
    (IDENTITY_ALLOWS, None, False),
    ([], grant({"AWS": OTHER_ROLE}), False),
    (IDENTITY_ALLOWS, grant({"AWS": OTHER_ROLE}), True),
    (IDENTITY_ALLOWS, grant({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}), True),
    (IDENTITY_ALLOWS, grant({"AWS": OTHER_ACCOUNT}), True),
    (IDENTITY_ALLOWS, grant("*"), True),
    (IDENTITY_ALLOWS, grant({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), False),  # names the owner, not the caller
    (IDENTITY_ALLOWS, grant({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:role/someone-else"}), False),
])
def test_cross_account_needs_both(identity, resource, expected: bool) -> None:
    decision = decide(identity, resource, principal=OTHER_ROLE)
    assert decision.allowed is expected, decision.reason


@pytest.mark.parametrize("deny_in", ["identity", "resource"])
@pytest.mark.parametrize("principal", [SESSION, OTHER_ROLE])
def test_an_explicit_deny_in_either_policy_wins(deny_in: str, principal: str) -> None:
    identity = [policy(stmt(Sid="Allow")), *([policy(stmt("Deny", Sid="No"))] if deny_in == "identity" else [])]
    resource = policy(stmt(Principal="*", Sid="AllowAll"), *(
        [stmt("Deny", Principal="*", Sid="No")] if deny_in == "resource" else []))
    decision = decide(identity, resource, principal=principal)
    assert not decision.allowed and decision.sid == "No" and "explicitly denied" in decision.reason


def test_a_role_arn_in_the_policy_names_its_sessions() -> None:
    assert allowed([], grant({"AWS": ROLE}), principal=SESSION)
    assert allowed([], grant({"AWS": SESSION}), principal=SESSION)
    assert not allowed([], grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}), principal=SESSION)
    assert allowed([], grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/worker"}), principal=SESSION)  # path


def test_service_principals_are_decided_by_the_resource_policy_alone() -> None:
    topic = "arn:aws:sns:us-east-1:111122223333:request"
    queue_policy = policy(stmt(Principal={"Service": "sns.amazonaws.com"}, Resource=QUEUE,
                               Condition={"ArnEquals": {"aws:SourceArn": topic}}))
    assert allowed([], queue_policy, principal="sns.amazonaws.com", context={"aws:SourceArn": topic})
    assert not allowed([], queue_policy, principal="sns.amazonaws.com", context={"aws:SourceArn": topic + "-x"})
    assert not allowed([], queue_policy, principal="sns.amazonaws.com")  # no source named: ArnEquals fails
    assert not allowed([], queue_policy, principal="events.amazonaws.com", context={"aws:SourceArn": topic})
    assert not allowed(IDENTITY_ALLOWS, None, principal="sns.amazonaws.com")  # services carry no identity policy


def test_not_principal_applies_to_everyone_else() -> None:
    fence = policy(stmt(Principal="*", Sid="Open"), stmt("Deny", NotPrincipal={"AWS": ROLE}, Sid="OnlyWorker"))
    assert allowed([], fence, principal=SESSION)
    decision = decide(IDENTITY_ALLOWS, fence, principal=f"arn:aws:iam::{ACCOUNT}:role/intruder")
    assert not decision.allowed and decision.sid == "OnlyWorker"


@pytest.mark.parametrize(("field", "expected"), [
    ("*", "any"), ({"AWS": "*"}, "any"), ({"AWS": ACCOUNT}, "account"), ({"AWS": [OTHER_ACCOUNT, ROLE]}, "node"),
    ({"Service": "sns.amazonaws.com"}, None), ({"Federated": "cognito-identity.amazonaws.com"}, None),
])
def test_how_a_principal_element_names_a_role_session(field: Any, expected: str | None) -> None:
    assert principal_match(field, Principal("session", SESSION, ACCOUNT, "worker")) == expected


def test_aws_derives_the_principal_keys_from_the_caller() -> None:
    """The request topic's pattern: the account principal, narrowed by aws:PrincipalAccount/PrincipalArn."""
    only_worker = policy(stmt(Principal={"AWS": OTHER_ACCOUNT}, Condition={
        "StringEquals": {"aws:PrincipalAccount": OTHER_ACCOUNT, "aws:PrincipalType": "AssumedRole"},
        "ArnLike": {"aws:PrincipalArn": "arn:*:iam::*:role/worker"}}))
    session = f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/worker/s1"
    assert allowed(IDENTITY_ALLOWS, only_worker, principal=session)
    assert allowed(IDENTITY_ALLOWS, only_worker, principal=OTHER_ROLE)
    assert not allowed([], only_worker, principal=session)
    assert not allowed(IDENTITY_ALLOWS, only_worker, principal=f"arn:aws:iam::{OTHER_ACCOUNT}:user/worker")
    assert not allowed(IDENTITY_ALLOWS, only_worker, principal=f"arn:aws:iam::{OTHER_ACCOUNT}:role/other")


def test_the_account_root_user_is_allowed_what_is_not_denied() -> None:
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert allowed([], None, principal=root)
    assert not allowed([], policy(stmt("Deny", Principal={"AWS": ACCOUNT})), principal=root)
    assert not allowed([], None, principal=f"arn:aws:iam::{OTHER_ACCOUNT}:root")  # another account's root
    assert allowed([], grant({"AWS": OTHER_ACCOUNT}), principal=f"arn:aws:iam::{OTHER_ACCOUNT}:root")


def test_principals_it_does_not_model_name_no_caller() -> None:
    federated = grant({"AWS": f"arn:aws:sts::{ACCOUNT}:federated-user/carol"})
    assert not allowed([], federated, principal=SESSION)
