"""A stage missing a webhook setting answers 500 with a generic body (the caller is not told the stage's
configuration) and logs every problem at once; a stage without the pipeline functions has no routes."""

from __future__ import annotations

from tests.lambda_app import chalice_client, import_app


def test_missing_settings_answer_500_and_the_log_names_each_one(webhook_rig, monkeypatch, tmp_path, caplog):
    env = webhook_rig.env(BRANCH_FILTER="not json")
    del env["WEBHOOK_DELIVERIES_TABLE"]
    with chalice_client(import_app(monkeypatch, env), tmp_path) as client:
        status, answer = webhook_rig.send_sample(client, "github_push")
    assert (status, answer) == (500, {"result": "error", "reason": "internal error"})
    assert "missing WEBHOOK_DELIVERIES_TABLE" in caplog.text and "invalid BRANCH_FILTER" in caplog.text
    assert webhook_rig.published() == []


def test_the_secret_prefix_defaults_to_pushdeploy_webhooks(webhook_rig, monkeypatch, tmp_path):
    env = webhook_rig.env()
    del env["WEBHOOK_SECRET_PREFIX"]
    with chalice_client(import_app(monkeypatch, env), tmp_path) as client:
        assert webhook_rig.send_sample(client, "gitlab_push")[0] == 200


def test_the_source_stage_has_no_webhook_routes(webhook_rig, monkeypatch, tmp_path):
    env = {"PUSHDEPLOY_FUNCTIONS": "source", "REQUEST_TOPIC_ARN": webhook_rig.pipeline.request_topic_arn,
           "BRANCH_FILTER": '{"*": ["*"]}'}
    module = import_app(monkeypatch, env)
    assert module.app.routes == {}
