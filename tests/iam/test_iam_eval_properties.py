"""Properties of AWS's evaluation logic that must hold for any policies and any request: generated policies
(from a small vocabulary, so statements often overlap) catch the combinations the tables do not list."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from localrig.iam.iam_eval import Request, evaluate
from tests.iam.iam_cases import ACCOUNT, OTHER_ACCOUNT, QUEUE, ROLE, SESSION

ACTIONS = ["sqs:SendMessage", "sqs:ReceiveMessage", "sns:Publish", "ec2:StartInstances"]
ACTION_PATTERNS = [*ACTIONS, "sqs:*", "*", "sns:Pub*", "ec2:?tartInstances"]
RESOURCES = [QUEUE, QUEUE + "-dlq", f"arn:aws:sns:us-east-1:{ACCOUNT}:request",
             f"arn:aws:sqs:us-east-1:{OTHER_ACCOUNT}:build"]
RESOURCE_PATTERNS = [*RESOURCES, "*", f"arn:aws:sqs:*:{ACCOUNT}:*", "arn:aws:sqs:us-east-1:*:build"]
CONDITIONS = [None, {"StringEquals": {"k:tag": "a"}}, {"StringNotEquals": {"k:tag": "a"}},
              {"StringEqualsIfExists": {"k:tag": "b"}}, {"Null": {"k:tag": "true"}},
              {"ForAllValues:StringEquals": {"k:set": ["a", "b"]}}, {"ForAnyValue:StringLike": {"k:set": "a*"}}]
PRINCIPALS = ["*", {"AWS": ACCOUNT}, {"AWS": OTHER_ACCOUNT}, {"AWS": ROLE},
              {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:role/worker"}]
CALLERS = [SESSION, ROLE, f"arn:aws:iam::{OTHER_ACCOUNT}:role/worker", f"arn:aws:iam::{ACCOUNT}:user/carol"]


def _statement(draw: st.DrawFn, resource_policy: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"])),
                             "Action": draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2)),
                             "Resource": draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2))}
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        found["Condition"] = condition
    if resource_policy:
        found["Principal"] = draw(st.sampled_from(PRINCIPALS))
    return found


@st.composite
def policies(draw: st.DrawFn, resource_policy: bool = False) -> dict[str, Any]:
    count = draw(st.integers(min_value=0 if resource_policy else 1, max_value=3))
    return {"Statement": [_statement(draw, resource_policy) for _ in range(count)]}


@st.composite
def requests(draw: st.DrawFn) -> Request:
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["k:tag"] = draw(st.sampled_from(["a", "b"]))
    if draw(st.booleans()):
        context["k:set"] = draw(st.lists(st.sampled_from(["a", "ab", "b", "c"]), max_size=3))
    return Request(draw(st.sampled_from(CALLERS)), draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(RESOURCES)),
                   context)


identities = st.lists(policies(), max_size=2)
resource_policies = st.one_of(st.none(), policies(resource_policy=True))


@given(identities, resource_policies, requests(), st.booleans())
def test_a_matching_deny_always_wins(identity, resource, request, in_resource_policy: bool) -> None:
    deny = {"Sid": "Wins", "Effect": "Deny", "Action": request.action, "Resource": request.resource}
    if in_resource_policy:
        resource = {"Statement": [*(resource or {"Statement": []})["Statement"], {**deny, "Principal": "*"}]}
    else:
        identity = [*identity, {"Statement": [deny]}]
    decision = evaluate(identity, resource, request)
    assert not decision.allowed
    assert "explicitly denied" in decision.reason


@given(identities, resource_policies, requests(), st.data())
def test_widening_an_allows_resource_to_star_never_turns_an_allow_into_a_deny(identity, resource, request,
                                                                               data) -> None:
    before = evaluate(identity, resource, request).allowed
    widened = copy.deepcopy(identity)
    allows = [s for p in widened for s in p["Statement"] if s["Effect"] == "Allow"]
    if allows:
        data.draw(st.sampled_from(allows))["Resource"] = "*"
    assert evaluate(widened, resource, request).allowed >= before


@given(identities, resource_policies, requests(), st.data())
def test_dropping_an_allows_condition_never_turns_an_allow_into_a_deny(identity, resource, request, data) -> None:
    before = evaluate(identity, resource, request).allowed
    loosened = copy.deepcopy(identity)
    allows = [s for p in loosened for s in p["Statement"] if s["Effect"] == "Allow"]
    if allows:
        data.draw(st.sampled_from(allows)).pop("Condition", None)
    assert evaluate(loosened, resource, request).allowed >= before


@given(identities, resource_policies, requests())
def test_statement_order_does_not_matter(identity, resource, request) -> None:
    reversed_identity = [{"Statement": list(reversed(p["Statement"]))} for p in reversed(identity)]
    reversed_resource = resource and {"Statement": list(reversed(resource["Statement"]))}
    assert evaluate(identity, resource, request).allowed == evaluate(reversed_identity, reversed_resource,
                                                                     request).allowed


@given(identities, policies(resource_policy=True), requests())
def test_a_cross_account_allow_needs_both_policies(identity, resource, request) -> None:
    caller_account = request.principal_arn.split(":")[4]
    if request.resource.split(":")[4] == caller_account or not evaluate(identity, resource, request).allowed:
        return
    assert not evaluate([], resource, request).allowed
    assert not evaluate(identity, None, request).allowed


@given(identities, resource_policies, requests())
def test_an_allow_names_the_statement_that_granted_it(identity, resource, request) -> None:
    tagged = [{"Statement": [{**s, "Sid": f"I{i}{j}"} for j, s in enumerate(p["Statement"])]}
              for i, p in enumerate(identity)]
    decision = evaluate(tagged, resource, request)
    if decision.allowed and decision.sid and decision.sid.startswith("I"):
        statement = next(s for p in tagged for s in p["Statement"] if s["Sid"] == decision.sid)
        assert statement["Effect"] == "Allow"
