"""When publishing fails after the delivery was recorded, the record is deleted again and the answer is 503
(transient) or 500, so the provider's retry publishes instead of being dropped as a duplicate."""

from __future__ import annotations

from tests.lambda_app import NOWHERE, chalice_client, import_app


def test_sns_unreachable_answers_503_leaves_no_record_and_the_retry_publishes(webhook_rig, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", NOWHERE)  # the webhook clients' SNS endpoint: a closed port
    with chalice_client(import_app(monkeypatch, webhook_rig.env()), tmp_path) as client:
        status, answer = webhook_rig.send_sample(client, "github_push")
    assert (status, answer) == (503, {"result": "unavailable", "reason": "could not publish; retry the delivery"})
    assert webhook_rig.deliveries() == [] and webhook_rig.published() == []
    monkeypatch.delenv("AWS_ENDPOINT_URL_SNS")
    with chalice_client(import_app(monkeypatch, webhook_rig.env()), tmp_path) as client:
        assert webhook_rig.send_sample(client, "github_push")[1]["result"] == "published"
    assert len(webhook_rig.published()) == 1 and len(webhook_rig.deliveries()) == 1


def test_a_topic_that_does_not_exist_answers_500_generically_and_leaves_no_record(webhook_rig, app_module, client,
                                                                                   caplog):
    webhook_rig.pipeline.client("sns").delete_topic(TopicArn=webhook_rig.pipeline.request_topic_arn)
    status, answer = webhook_rig.send_sample(client, "gitlab_push")
    assert (status, answer) == (500, {"result": "error", "reason": "internal error"})
    assert webhook_rig.deliveries() == []
    assert "publishing the build request for mike/diaspora/master failed" in caplog.text


def test_dynamodb_unreachable_answers_503_before_anything_is_published(webhook_rig, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", NOWHERE)
    with chalice_client(import_app(monkeypatch, webhook_rig.env()), tmp_path) as client:
        status, _ = webhook_rig.send_sample(client, "bitbucket_push")
    assert status == 503
    assert webhook_rig.published() == []
