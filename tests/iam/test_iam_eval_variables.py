"""Policy variables: ``${key}`` is replaced by the request's value of key (in Resource and in string and
ARN condition values); a variable the request lacks makes that element match nothing."""

from __future__ import annotations

from localrig.iam.iam_eval import condition_holds, text_matches
from tests.iam.iam_cases import ACCOUNT, allowed, policy, stmt

USER = f"arn:aws:iam::{ACCOUNT}:user/carol"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0aaa"
OTHER_INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0bbb"


def test_username_comes_from_the_users_arn() -> None:
    rules = [policy(stmt(Action="s3:GetObject", Resource="arn:aws:s3:::home/${aws:username}/*"))]
    assert allowed(rules, principal=USER, action="s3:GetObject", on="arn:aws:s3:::home/carol/notes.txt")
    assert not allowed(rules, principal=USER, action="s3:GetObject", on="arn:aws:s3:::home/dave/notes.txt")


def test_a_role_has_no_username_so_the_statement_matches_nothing() -> None:
    rules = [policy(stmt(Action="s3:GetObject", Resource="arn:aws:s3:::home/${aws:username}/*"))]
    assert not allowed(rules, action="s3:GetObject", on="arn:aws:s3:::home/worker/x")


def test_the_builder_may_tag_only_its_own_instance() -> None:
    """The builder's heartbeat grant: aws:ARN (the instance tagged) must equal ${ec2:SourceInstanceARN}
    (the instance whose role credentials signed the call)."""
    rules = [policy(stmt(Action="ec2:CreateTags", Resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*",
                         Condition={"StringEquals": {"aws:ARN": "${ec2:SourceInstanceARN}"},
                                    "ForAllValues:StringEquals": {"aws:TagKeys": ["pushdeploy:agent"]}}))]
    own = {"ec2:SourceInstanceARN": INSTANCE, "aws:ARN": INSTANCE, "aws:TagKeys": ["pushdeploy:agent"]}
    assert allowed(rules, action="ec2:CreateTags", on=INSTANCE, context=own)
    assert not allowed(rules, action="ec2:CreateTags", on=OTHER_INSTANCE, context={**own, "aws:ARN": OTHER_INSTANCE})
    assert not allowed(rules, action="ec2:CreateTags", on=INSTANCE,
                       context={**own, "aws:TagKeys": ["pushdeploy:agent", "pushdeploy:role"]})
    no_source = {k: v for k, v in own.items() if k != "ec2:SourceInstanceARN"}  # not called from an instance
    assert not allowed(rules, action="ec2:CreateTags", on=INSTANCE, context=no_source)


def test_a_substituted_value_is_literal_not_a_wildcard() -> None:
    assert not text_matches("queue/${k:name}", "queue/build", {"k:name": "*"})
    assert text_matches("queue/${k:name}", "queue/*", {"k:name": "*"})


def test_escapes_and_defaults() -> None:
    assert text_matches("a${*}b", "a*b", {}) and not text_matches("a${*}b", "axb", {})
    assert text_matches("a${?}${$}", "a?$", {})
    assert text_matches("team/${aws:PrincipalTag/team, 'none'}", "team/none", {})
    assert text_matches("team/${aws:PrincipalTag/team, 'none'}", "team/ops", {"aws:principaltag/team": "ops"})


def test_variables_in_string_like_and_arn_like_conditions() -> None:
    context = {"aws:username": "carol", "aws:sourcearn": "arn:aws:sns:us-east-1:1:carol-topic"}
    assert condition_holds({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {**context, "s3:prefix":
                                                                                        "home/carol/x"})
    assert condition_holds({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:${aws:username}-*"}}, context)
    assert not condition_holds({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:${aws:userid}-*"}}, context)


def test_the_proposed_heartbeat_grant_names_the_instance_by_a_documented_key() -> None:
    """The fix proposed for parliament's UNKNOWN_CONDITION_FOR_ACTION on aws:ARN (tests/iam/test_iam_parliament.py
    OPEN): the same guarantee with ec2:SourceInstanceARN as the whole Resource."""
    rules = [policy(stmt(Action="ec2:CreateTags", Resource="${ec2:SourceInstanceARN}",
                         Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["pushdeploy:agent"]}}))]
    own = {"ec2:SourceInstanceARN": INSTANCE, "aws:TagKeys": ["pushdeploy:agent"]}
    assert allowed(rules, action="ec2:CreateTags", on=INSTANCE, context=own)
    assert not allowed(rules, action="ec2:CreateTags", on=OTHER_INSTANCE, context=own)
    assert not allowed(rules, action="ec2:CreateTags", on=INSTANCE, context={"aws:TagKeys": ["pushdeploy:agent"]})
    assert not allowed(rules, action="ec2:CreateTags", on=INSTANCE,
                       context={**own, "aws:TagKeys": ["pushdeploy:agent", "pushdeploy:role"]})
