"""Condition operators, each family with its negation, and AWS's rule for a key the request lacks:
"the condition is false; if the operator is negated (StringNotLike, ArnNotLike, ...) it is true; except
...IfExists and Null, which test whether the key exists" (IAM User Guide, condition operators)."""

from __future__ import annotations

from typing import Any

import pytest

from localrig.iam.iam_eval import PolicyError, condition_holds
from tests.iam.iam_cases import allowed, policy, stmt

ARN = "arn:aws:sns:us-east-1:111122223333:pushdeploy-request"


@pytest.mark.parametrize(("operator", "wanted", "value", "expected"), [
    ("StringEquals", "builder", "builder", True),
    ("StringEquals", "builder", "Builder", False),
    ("StringEquals", "build*", "builder", False),  # no wildcards in StringEquals
    ("StringEquals", ["a", "builder"], "builder", True),
    ("StringNotEquals", "builder", "builder", False),
    ("StringNotEquals", ["a", "b"], "c", True),
    ("StringEqualsIgnoreCase", "BUILDER", "builder", True),
    ("StringNotEqualsIgnoreCase", "BUILDER", "builder", False),
    ("StringLike", "build*", "builder", True),
    ("StringLike", "b?ilder", "builder", True),
    ("StringLike", "build*", "rebuild", False),
    ("StringNotLike", "build*", "rebuild", True),
    ("ArnEquals", ARN, ARN, True),
    ("ArnEquals", "arn:aws:sns:*:111122223333:*", ARN, True),  # ArnEquals takes wildcards too
    ("ArnLike", "arn:*:sns:*:111122223333:pushdeploy-*", ARN, True),
    ("ArnLike", "arn:aws:sns:us-east-1:444455556666:*", ARN, False),
    ("ArnLike", "arn:aws:sns:*", ARN, False),  # six parts, each matched on its own
    ("ArnNotEquals", ARN, ARN, False),
    ("ArnNotLike", "arn:aws:sqs:*:*:*", ARN, True),
    ("Bool", "true", True, True),
    ("Bool", "true", "True", True),
    ("Bool", "false", True, False),
    ("NumericEquals", "5", 5, True),
    ("NumericNotEquals", "5", "5.0", False),
    ("NumericLessThan", "10", 9, True),
    ("NumericLessThan", "10", 10, False),
    ("NumericLessThanEquals", "10", 10, True),
    ("NumericGreaterThan", "10", 11, True),
    ("NumericGreaterThanEquals", "10", 9, False),
    ("DateLessThan", "2026-12-01T00:00:00Z", "2026-11-30T01:00:00Z", True),
    ("DateGreaterThan", "2026-12-01T00:00:00Z", "2026-11-30T01:00:00Z", False),
    ("DateEquals", "1764460800", "2025-11-30T00:00:00Z", True),  # epoch seconds and ISO 8601 compare
    ("DateNotEquals", "2025-11-30T00:00:00Z", "2025-11-30T00:00:01Z", True),
    ("IpAddress", "203.0.113.0/24", "203.0.113.9", True),
    ("IpAddress", "203.0.113.0/24", "198.51.100.1", False),
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", True),
])
def test_operator(operator: str, wanted: Any, value: Any, expected: bool) -> None:
    assert condition_holds({operator: {"k:key": wanted}}, {"k:key": value}) is expected


NEGATED = ["StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
           "NumericNotEquals", "DateNotEquals", "NotIpAddress"]
POSITIVE = ["StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool",
            "NumericEquals", "NumericLessThan", "DateEquals", "IpAddress", "BinaryEquals"]


@pytest.mark.parametrize("operator", POSITIVE)
def test_a_missing_key_fails_a_positive_operator_and_passes_its_if_exists(operator: str) -> None:
    assert condition_holds({operator: {"k:absent": "1"}}, {}) is False
    assert condition_holds({operator + "IfExists": {"k:absent": "1"}}, {}) is True


@pytest.mark.parametrize("operator", NEGATED)
def test_a_missing_key_passes_a_negated_operator(operator: str) -> None:
    assert condition_holds({operator: {"k:absent": "1"}}, {}) is True


def test_if_exists_still_checks_a_present_key() -> None:
    assert condition_holds({"StringEqualsIfExists": {"k:key": "a"}}, {"k:key": "b"}) is False
    assert condition_holds({"StringEqualsIfExists": {"k:key": "a"}}, {"k:key": "a"}) is True


@pytest.mark.parametrize(("wanted", "context", "expected"), [
    ("true", {}, True), ("true", {"k:key": "x"}, False), ("false", {"k:key": "x"}, True), ("false", {}, False),
])
def test_null_tests_whether_the_key_exists(wanted: str, context: dict[str, str], expected: bool) -> None:
    assert condition_holds({"Null": {"k:key": wanted}}, context) is expected


def test_keys_and_operators_are_anded_values_are_ored() -> None:
    condition = {"StringEquals": {"k:a": ["1", "2"], "k:b": "x"}, "Bool": {"k:c": "true"}}
    assert condition_holds(condition, {"k:a": "2", "k:b": "x", "k:c": True})
    assert not condition_holds(condition, {"k:a": "2", "k:b": "x", "k:c": False})
    assert not condition_holds(condition, {"k:a": "3", "k:b": "x", "k:c": True})


def test_condition_keys_are_case_insensitive_values_are_not() -> None:
    rules = [policy(stmt(Condition={"StringEquals": {"aws:ResourceTag/Role": "builder"}}))]
    assert allowed(rules, context={"AWS:RESOURCETAG/ROLE": "builder"})
    assert allowed(rules, context={"aws:resourcetag/role": "builder"})
    assert not allowed(rules, context={"aws:ResourceTag/Role": "Builder"})


def test_a_condition_gates_an_allow_and_a_deny() -> None:
    gate = {"StringEquals": {"aws:ResourceTag/pushdeploy:role": "builder"}}
    allow = [policy(stmt(Resource="*", Condition=gate))]
    assert allowed(allow, context={"aws:ResourceTag/pushdeploy:role": "builder"})
    assert not allowed(allow, context={"aws:ResourceTag/pushdeploy:role": "web"})
    deny = [policy(stmt(Resource="*"), stmt("Deny", Resource="*", Condition=gate))]
    assert not allowed(deny, context={"aws:ResourceTag/pushdeploy:role": "builder"})
    assert allowed(deny, context={"aws:ResourceTag/pushdeploy:role": "web"})


@pytest.mark.parametrize("operator", ["StringSortOf", "ForEveryValue:StringEquals", "Nul"])
def test_an_unknown_operator_is_an_error_not_a_guess(operator: str) -> None:
    with pytest.raises(PolicyError):
        condition_holds({operator: {"k:key": "x"}}, {"k:key": "x"})
