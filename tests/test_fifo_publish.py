"""Every publisher of a build request (the request Lambda, the webhook routes, the pipeline API) puts it in its
pipeline's message group on a FIFO topic, with its push's deduplication id, so a repeated publish is dropped;
a standard topic (an install not yet migrated) still takes the same requests without either."""

from __future__ import annotations

import pytest

from chalicelib.fifo import deduplication_id, message_group_id
from tests.api_rig import make_api_rig, post
from tests.conftest import load_event
from tests.lambda_app import (
    FifoRequestPath,
    chalice_client,
    function_invoker,
    import_app,
    make_fifo_request_path,
    make_source_rig,
)
from tests.webhooks.rig import make_webhook_rig

SEVERAL = "11_codecommit_trigger_several_refs.pushdeploy-GENERATED.json"
WAKE = "arn:aws:sqs:us-east-1:123456789012:pushdeploy-wake"  # read at import only: the routes never use it


@pytest.fixture
def fifo(aws) -> FifoRequestPath:
    return make_fifo_request_path(aws)


def assert_fifo_ids(received, groups: list[str]) -> None:
    assert sorted(attrs["MessageGroupId"] for _, attrs in received) == sorted(groups)
    for request, attrs in received:
        assert attrs["MessageGroupId"] == message_group_id(request)
        assert attrs["MessageDeduplicationId"] == deduplication_id(request)


def test_the_request_function_publishes_each_branch_in_its_group_and_its_retry_is_dropped(
        aws, fifo, monkeypatch, tmp_path, caplog):
    source = make_source_rig(aws)
    invoke = function_invoker(source, monkeypatch, tmp_path, "request")
    event = load_event(SEVERAL)
    filter_all = '{"sample": ["*"], "*": ["*"]}'

    invoke(event, REQUEST_TOPIC_ARN=fifo.topic_arn, BRANCH_FILTER=filter_all)
    invoke(event, REQUEST_TOPIC_ARN=fifo.topic_arn, BRANCH_FILTER=filter_all)  # Lambda's retry of the same event
    # (before the first copies are received: moto forgets a deduplication id once its message is deleted, where
    # SQS keeps it for the whole five minutes)
    received = fifo.received()

    assert_fifo_ids(received, ["sample/production", "sample/feature/login", "billing/main"])


def test_a_webhook_delivery_is_published_in_its_pipelines_group(aws, fifo, monkeypatch, tmp_path):
    rig = make_webhook_rig(aws)
    env = rig.env(REQUEST_TOPIC_ARN=fifo.topic_arn, WAKE_QUEUE_ARN=rig.pipeline.wake_queue_arn)
    with chalice_client(import_app(monkeypatch, env), tmp_path) as client:
        status, _ = rig.send_sample(client, "github_push")
    assert status == 200
    received = fifo.received()
    assert_fifo_ids(received, ["Codertocat/Hello-World/main"])
    assert received[0][0].event_id and received[0][0].trigger == "github"


def test_an_api_build_and_rollback_of_one_pipeline_share_its_group_in_order(aws, fifo, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    env = rig.env(REQUEST_TOPIC_ARN=fifo.topic_arn, WAKE_QUEUE_ARN=WAKE)  # a pipeline stage with a FIFO topic
    with chalice_client(import_app(monkeypatch, env), tmp_path) as client:
        assert post(client, "/pipelines/sample%2Fproduction/builds", {"force": True})[0] == 202
        assert post(client, "/pipelines/sample%2Fproduction/rollback")[0] == 202
    first = fifo.received()  # one message of the group per receive while the first is in flight: delete, receive again
    second = fifo.received()
    received = first + second
    assert_fifo_ids(received, ["sample/production", "sample/production"])
    assert [request.action for request, _ in received] == ["build", "rollback"]


def test_a_duplicate_publish_within_the_window_is_dropped_by_the_topic(aws, fifo):
    from chalicelib.contracts import BuildRequest, utc_now
    from chalicelib.request.topic import RequestTopic

    topic = RequestTopic(aws.client("sns"), fifo.topic_arn)
    push = BuildRequest("sample", "production", "d" * 40, "webhook", "delivery-7", utc_now(), trigger="gitlab")
    topic.publish(push)
    topic.publish(BuildRequest("sample", "production", "d" * 40, "webhook", "delivery-7", utc_now(), trigger="gitlab"))
    topic.publish(BuildRequest("sample", "production", "e" * 40, "webhook", "delivery-8", utc_now(), trigger="gitlab"))
    received = fifo.received() + fifo.received()
    assert [request.event_id for request, _ in received] == ["delivery-7", "delivery-8"]


def test_a_standard_topic_still_takes_requests_without_fifo_ids(aws, monkeypatch, tmp_path):
    source = make_source_rig(aws)
    invoke = function_invoker(source, monkeypatch, tmp_path, "request")
    event = load_event(SEVERAL)
    event["Records"] = event["Records"][:1]
    invoke(event)
    sqs = aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=source.queue_url, AttributeNames=["All"])["Messages"]
    assert "MessageGroupId" not in message["Attributes"]
