"""ForAllValues: and ForAnyValue: on multivalued keys (aws:TagKeys), as the builder's heartbeat-tag grant
uses them, with AWS's documented edge cases: ForAllValues holds for a missing key or an empty set (so it is
usually paired with a check that the key exists); ForAnyValue fails for both."""

from __future__ import annotations

import pytest

from localrig.iam.iam_eval import condition_holds

ONLY_AGENT_TAG = {"ForAllValues:StringEquals": {"aws:TagKeys": ["pushdeploy:agent"]}}
ANY_AGENT_TAG = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["pushdeploy:agent"]}}


@pytest.mark.parametrize(("keys", "for_all", "for_any"), [
    (["pushdeploy:agent"], True, True),
    (["pushdeploy:agent", "pushdeploy:role"], False, True),  # a second tag key: ForAllValues refuses
    (["Name"], False, False),
    ([], True, False),
    (None, True, False),
])
def test_set_operators(keys, for_all: bool, for_any: bool) -> None:
    context = {} if keys is None else {"aws:tagkeys": keys}
    assert condition_holds(ONLY_AGENT_TAG, context) is for_all
    assert condition_holds(ANY_AGENT_TAG, context) is for_any


def test_for_all_values_with_a_negated_operator_means_none_of_the_listed() -> None:
    no_role_tag = {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["pushdeploy:role"]}}
    assert condition_holds(no_role_tag, {"aws:tagkeys": ["pushdeploy:agent", "Name"]})
    assert not condition_holds(no_role_tag, {"aws:tagkeys": ["pushdeploy:agent", "pushdeploy:role"]})


def test_for_any_value_with_a_negated_operator_means_at_least_one_not_listed() -> None:
    something_else = {"ForAnyValue:StringNotLike": {"aws:TagKeys": ["pushdeploy:*"]}}
    assert condition_holds(something_else, {"aws:tagkeys": ["pushdeploy:agent", "Name"]})
    assert not condition_holds(something_else, {"aws:tagkeys": ["pushdeploy:agent"]})


def test_set_operators_take_wildcards_and_if_exists() -> None:
    assert condition_holds({"ForAllValues:StringLike": {"aws:TagKeys": "pushdeploy:*"}},
                           {"aws:tagkeys": ["pushdeploy:agent", "pushdeploy:role"]})
    assert condition_holds({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "x"}}, {})


def test_a_single_valued_operator_on_a_multivalued_key_matches_any_value() -> None:
    assert condition_holds({"StringEquals": {"aws:TagKeys": "Name"}}, {"aws:tagkeys": ["pushdeploy:agent", "Name"]})
    assert not condition_holds({"StringNotEquals": {"aws:TagKeys": "Name"}},
                               {"aws:tagkeys": ["pushdeploy:agent", "Name"]})
