"""An end-of-run reaches close: the builder stops only when it is ours and nothing waits for it, or when its
agent exited (then nothing would serve what waits: the reconcile starts the builder again for it)."""

from __future__ import annotations

import pytest

from chalicelib.contracts import BuildResult, EndOfRun, utc_now
from tests.lambda_app import PipelineRig, function_invoker, make_pipeline_rig, sns_event


@pytest.fixture
def rig(aws) -> PipelineRig:
    return make_pipeline_rig(aws)


@pytest.fixture
def invoke(rig, monkeypatch, tmp_path):
    return function_invoker(rig, monkeypatch, tmp_path, "close", sns_event)


def end_of_run(instance_id: str | None) -> str:
    return EndOfRun(builder_instance_id=instance_id, sent_at=utc_now()).to_json()


def test_end_of_run_with_empty_queue_stops_the_builder(rig, invoke, caplog):
    assert invoke(end_of_run(rig.instance_id)) == "stopped"
    assert rig.state() == "stopped"
    assert f"stopped builder {rig.instance_id}" in caplog.text


def test_legacy_plain_stop_means_the_configured_builder(rig, invoke):
    assert invoke("stop") == "stopped"
    assert rig.state() == "stopped"


def test_waiting_request_keeps_the_builder_running(rig, invoke, caplog):
    rig.client("sqs").send_message(QueueUrl=rig.queue_url, MessageBody="build")
    assert invoke(end_of_run(rig.instance_id)) == "queue-not-empty"
    assert rig.state() == "running"
    assert "build queue not empty (1 waiting, 0 in flight, 0 delayed)" in caplog.text


def test_request_being_built_keeps_the_builder_running(rig, invoke, caplog):
    sqs = rig.client("sqs")
    sqs.send_message(QueueUrl=rig.queue_url, MessageBody="build")
    assert sqs.receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=600)["Messages"]
    assert invoke(end_of_run(rig.instance_id)) == "queue-not-empty"
    assert rig.state() == "running"
    assert "(0 waiting, 1 in flight, 0 delayed)" in caplog.text


def test_delayed_request_keeps_the_builder_running(rig, invoke, caplog):
    rig.client("sqs").send_message(QueueUrl=rig.queue_url, MessageBody="build", DelaySeconds=600)
    assert invoke(end_of_run(rig.instance_id)) == "queue-not-empty"
    assert rig.state() == "running"
    assert "0 in flight, 1 delayed" in caplog.text


def test_build_result_alone_does_not_stop_the_builder(rig, invoke, caplog):
    now = utc_now()
    result = BuildResult("sample/production", "sample", "production", "succeeded", "a" * 40, now, now)
    assert invoke(result.to_json()) == "not-end-of-run"
    assert rig.state() == "running"


def test_end_of_run_naming_another_instance_is_refused(rig, invoke, caplog):
    other = rig.new_instance({"pushdeploy:role": "builder"})
    assert invoke(end_of_run(other)) == "refused"
    assert (rig.state(), rig.state(other)) == ("running", "running")
    assert f"end of run names {other}, not the configured builder {rig.instance_id}" in caplog.text


def test_configured_instance_without_the_tag_is_never_stopped(rig, invoke, caplog):
    untagged = rig.new_instance({})
    assert invoke(end_of_run(untagged), BUILDER_INSTANCE_ID=untagged) == "refused"
    assert rig.state(untagged) == "running"
    assert f"{untagged} lacks the builder tag pushdeploy:role=builder (has pushdeploy:role=None)" in caplog.text


def test_already_stopped_builder_is_left_alone(rig, invoke, caplog):
    rig.stop()
    assert invoke(end_of_run(rig.instance_id)) == "already-stopped"


@pytest.mark.parametrize("message, field", [
    ("{", "(message)"),
    ('{"type": "pushdeploy.end_of_run", "version": 1}', "sent_at"),
    ('{"type": "pushdeploy.end_of_run", "version": 9, "sent_at": "2026-01-01T00:00:00Z"}', "version"),
    ('{"type": "something.else", "version": 1}', "type"),
])
def test_malformed_message_is_logged_and_the_builder_left_running(rig, invoke, caplog, message, field):
    assert invoke(message) == "malformed"
    assert rig.state() == "running"
    assert f"malformed close message, builder left as is: {field}" in caplog.text


def test_queue_that_does_not_exist_is_a_configuration_error(rig, invoke):
    from chalicelib.errors import AwsCallError

    missing = rig.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(AwsCallError, match="no-such-queue"):
        invoke(end_of_run(rig.instance_id), BUILD_QUEUE_URL=missing)
    assert rig.state() == "running"


def test_unreachable_aws_is_retryable(rig, invoke, monkeypatch):
    from chalicelib.errors import RetryableError
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match="EndpointConnectionError"):
        invoke(end_of_run(rig.instance_id))


def exited(instance_id: str | None) -> str:
    """What the agent's crash path and the unit's stop hook send: nothing serves the queue any more."""
    return EndOfRun(builder_instance_id=instance_id, sent_at=utc_now(), reason="agent service ended: signal",
                    agent_exited=True).to_json()


def test_end_of_run_from_an_exited_agent_stops_the_builder_despite_queued_requests(rig, invoke, caplog):
    sqs = rig.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=rig.queue_url, MessageBody="build")
    assert sqs.receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=600)["Messages"]  # the dead agent's

    assert invoke(exited(rig.instance_id)) == "stopped-agent-exited"

    assert rig.state() == "stopped"
    assert (f"stopped builder {rig.instance_id} (was running) whatever the queue holds: agent exited (agent service "
            "ended: signal); in-flight requests return after their visibility timeout and the reconcile starts the "
            "builder again") in caplog.text
    depth = sqs.get_queue_attributes(QueueUrl=rig.queue_url, AttributeNames=["All"])["Attributes"]
    assert (depth["ApproximateNumberOfMessages"], depth["ApproximateNumberOfMessagesNotVisible"]) == ("1", "1")


def test_without_agent_exited_the_same_queue_keeps_the_builder_running(rig, invoke, caplog):
    sqs = rig.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=rig.queue_url, MessageBody="build")
    assert sqs.receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=600)["Messages"]

    assert invoke(end_of_run(rig.instance_id)) == "queue-not-empty"

    assert rig.state() == "running"
    assert "(1 waiting, 1 in flight, 0 delayed)" in caplog.text


def test_an_exited_agent_never_gets_another_instance_or_an_untagged_one_stopped(rig, invoke, caplog):
    other = rig.new_instance({"pushdeploy:role": "builder"})
    assert invoke(exited(other)) == "refused"
    untagged = rig.new_instance({})
    assert invoke(exited(untagged), BUILDER_INSTANCE_ID=untagged) == "refused"
    assert (rig.state(), rig.state(other), rig.state(untagged)) == ("running", "running", "running")


def test_an_exited_agent_on_an_already_stopped_builder_changes_nothing(rig, invoke):
    rig.stop()
    assert invoke(exited(rig.instance_id)) == "already-stopped"
    assert rig.state() == "stopped"
