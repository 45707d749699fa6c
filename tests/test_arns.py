"""ARNs are parsed by one function, not sliced at call sites."""

import pytest

from chalicelib.arns import ArnError, parse_arn, parse_task_definition


def test_sns_topic_arn_has_no_resource_type():
    arn = parse_arn("arn:aws:sns:ap-northeast-1:111122223333:request", "sns")
    assert (arn.region, arn.account, arn.resource_type, arn.resource_id) == (
        "ap-northeast-1", "111122223333", "", "request")


def test_ecs_service_arn_long_format_keeps_cluster_and_service():
    arn = parse_arn("arn:aws:ecs:us-east-1:123456789012:service/production-cluster/web")
    assert arn.resource_type == "service"
    assert arn.resource_id == "production-cluster/web"
    assert arn.resource_name == "web"


@pytest.mark.parametrize("text, name", [
    ("arn:aws:ecs:us-east-1:123456789012:service/web", "web"),  # ECS's old service ARN format
    ("arn:aws:ecs:us-east-1:123456789012:cluster/production-cluster", "production-cluster"),
    ("arn:aws:iam::123456789012:role/service-role/pushdeploy-dev-request", "pushdeploy-dev-request"),
    ("arn:aws:lambda:us-east-1:123456789012:function:pushdeploy-dev-request", "pushdeploy-dev-request"),
    ("arn:aws:sns:us-east-1:123456789012:request", "request"),
])
def test_resource_name_is_the_last_segment_with_or_without_a_parent(text, name):
    assert parse_arn(text).resource_name == name


def test_task_definition_from_arn_and_short_form():
    ref = parse_task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/production-task:12")
    assert (ref.family, ref.revision, str(ref)) == ("production-task", 12, "production-task:12")
    assert parse_task_definition("web:3").revision == 3


def test_china_partition_and_round_trip():
    text = "arn:aws-cn:sqs:cn-north-1:123456789012:build"
    assert str(parse_arn(text)) == text
    assert parse_arn(text).partition == "aws-cn"


@pytest.mark.parametrize("bad", ["", "arn:aws:sns", "not-an-arn:a:b:c:d:e", None, "arn::sns:r:a:x"])
def test_malformed_arn_is_refused_with_the_text(bad):
    with pytest.raises(ArnError):
        parse_arn(bad)


def test_wrong_service_is_refused():
    with pytest.raises(ArnError, match="expected an sqs ARN"):
        parse_arn("arn:aws:sns:us-east-1:123456789012:t", "sqs")


@pytest.mark.parametrize("bad", ["web", "web:latest", "arn:aws:ecs:us-east-1:1:service/c/s", ":3"])
def test_task_definition_without_revision_is_refused(bad):
    with pytest.raises(ArnError):
        parse_task_definition(bad)


@pytest.mark.parametrize("bad", ["web:²", "web:1²", "web:٣", "web:" + "9" * 4301, "web:12345678901", "web:-1", "web:+1",
                                 "web: 1", "web:1\n", None, 12])
def test_task_definition_revision_must_be_a_few_ascii_digits(bad):
    with pytest.raises(ArnError):
        parse_task_definition(bad)


def test_task_definition_revision_of_ten_digits_parses():
    assert parse_task_definition("web:1234567890").revision == 1234567890


def test_an_arn_error_quotes_a_huge_text_bounded():
    with pytest.raises(ArnError) as caught:
        parse_arn("x" * 100_000)
    assert len(str(caught.value)) < 400
