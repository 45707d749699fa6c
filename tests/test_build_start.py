"""A build request reaches build_start: the builder starts if it is stopped, and only the builder."""

from __future__ import annotations

import json

import pytest

from chalicelib.contracts import BuildRequest, utc_now
from chalicelib.errors import RetryableError, SettingsError
from tests.lambda_app import (
    PipelineRig,
    chalice_client,
    function_invoker,
    import_app,
    make_pipeline_rig,
    sns_event,
    threaded_moto_rig,
    wake_event,
)

COMMIT = "a" * 40


def request_message() -> str:
    return BuildRequest("sample", "production", COMMIT, "eventbridge", "evt-1", utc_now()).to_json()


@pytest.fixture
def rig(aws) -> PipelineRig:
    return make_pipeline_rig(aws)


@pytest.fixture(params=["topic", "wake-queue"])
def invoke(request, rig, monkeypatch, tmp_path):
    """Both ways a request reaches build_start: the standard request topic (before issue 11), the wake queue."""
    if request.param == "topic":
        return function_invoker(rig, monkeypatch, tmp_path, "build_start", sns_event)
    run = function_invoker(rig, monkeypatch, tmp_path, "build_start", wake_event)
    return lambda payload=None, **env: run(payload, **{"WAKE_QUEUE_ARN": rig.wake_queue_arn, **env})


def test_stopped_builder_is_started(rig, invoke, caplog):
    rig.stop()
    assert invoke(request_message()) == "started"
    assert rig.state() == "running"
    assert f"started builder {rig.instance_id} for sample/production" in caplog.text


def test_legacy_plain_build_message_starts_the_builder(rig, invoke):
    rig.stop()
    assert invoke("build") == "started"
    assert rig.state() == "running"


def test_running_builder_is_left_alone(rig, invoke, caplog):
    assert invoke(request_message()) == "already-running"
    assert rig.state() == "running"
    assert "already running" in caplog.text


@pytest.mark.parametrize("message, field", [
    ("not json", "(message)"),
    (json.dumps({k: v for k, v in json.loads(request_message()).items() if k != "branch"}), "branch"),
    (request_message().replace(COMMIT, "abc"), "commit"),
])
def test_malformed_request_is_logged_not_retried(rig, invoke, caplog, message, field):
    rig.stop()
    assert invoke(message) == "malformed"
    assert rig.state() == "stopped"
    assert f"malformed build request, builder not started: {field}" in caplog.text


def test_instance_without_builder_tag_is_never_started(rig, invoke, caplog):
    other = rig.new_instance({"pushdeploy:role": "web"})
    rig.stop(other)
    assert invoke(request_message(), BUILDER_INSTANCE_ID=other) == "refused"
    assert rig.state(other) == "stopped"
    assert f"{other} lacks the builder tag pushdeploy:role=builder" in caplog.text


def test_terminated_builder_is_reported_not_retried(rig, invoke, caplog):
    rig.client("ec2").terminate_instances(InstanceIds=[rig.instance_id])
    assert invoke(request_message()) == "refused"
    assert "is terminated and cannot be started" in caplog.text


def test_missing_settings_are_listed_together(rig, invoke):
    with pytest.raises(SettingsError) as caught:
        invoke(request_message(), BUILDER_INSTANCE_ID="", BUILD_QUEUE_URL="", BUILDER_TAG="role")
    text = str(caught.value)
    assert "missing BUILDER_INSTANCE_IDS (or BUILDER_INSTANCE_ID), BUILD_QUEUE_URL" in text
    assert "invalid BUILDER_TAG: expected key=value, got 'role'" in text


@pytest.mark.parametrize("path", ["topic", "wake-queue"])
def test_stopping_builder_raises_retryable_and_the_retry_starts_it(stopping_rig, monkeypatch, tmp_path, path):
    """The retry is the recovery path: Lambda's async retry (topic), or the wake message that comes back after
    the queue's visibility timeout because the batch failed (wake queue); the first attempt fails, a later one
    starts it."""
    rig, set_state = stopping_rig
    set_state("stopping")
    wake = path == "wake-queue"
    module = import_app(monkeypatch, rig.env(**({"WAKE_QUEUE_ARN": rig.wake_queue_arn} if wake else {})))
    make_event = wake_event if wake else sns_event
    with chalice_client(module, tmp_path) as client:
        with pytest.raises(RetryableError, match=f"builder {rig.instance_id} is stopping"):
            client.lambda_.invoke("build_start", make_event(client, request_message()))
        set_state("stopped")  # what EC2 reports a little later, when the retry runs
        assert client.lambda_.invoke("build_start", make_event(client, request_message())).payload == "started"
    assert rig.state() == "running"


@pytest.fixture
def stopping_rig(monkeypatch):
    with threaded_moto_rig(monkeypatch) as found:
        yield found


def test_unreachable_ec2_is_retryable(rig, invoke, monkeypatch):
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match=f"describing instance {rig.instance_id} failed"):
        invoke(request_message())
