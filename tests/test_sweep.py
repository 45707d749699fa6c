"""The scheduled sweep: a stopped builder with requests in its queue is started, so no push is stranded."""

from __future__ import annotations

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
)


@pytest.fixture
def rig(aws) -> PipelineRig:
    return make_pipeline_rig(aws)


def scheduled_event(client) -> dict:
    """What EventBridge sends a scheduled function (Chalice's app.schedule)."""
    return client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                           resources=["arn:aws:events:us-east-1:123456789012:rule/pushdeploy-sweep"])


@pytest.fixture
def sweep(rig, monkeypatch, tmp_path):
    return function_invoker(rig, monkeypatch, tmp_path, "sweep", lambda client, _: scheduled_event(client))


def queue_request(rig: PipelineRig, **options) -> None:
    body = BuildRequest("sample", "production", "a" * 40, "eventbridge", "evt-1", utc_now()).to_json()
    rig.client("sqs").send_message(QueueUrl=rig.queue_url, MessageBody=body, **options)


def test_waiting_request_on_a_stopped_builder_starts_it(rig, sweep, caplog):
    queue_request(rig)
    rig.stop()
    assert sweep() == "started"
    assert rig.state() == "running"
    assert (f"build queue not empty (1 waiting, 0 in flight, 0 delayed) while builder {rig.instance_id} "
            "was stopped: started it") in caplog.text


def test_request_stranded_by_a_stop_is_picked_up_by_the_next_sweep(rig, monkeypatch, tmp_path):
    """The race close cannot see: the request arrives while the builder still runs, then it stops."""
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        message = BuildRequest("sample", "production", "b" * 40, "eventbridge", "evt-2", utc_now()).to_json()
        rig.client("sqs").send_message(QueueUrl=rig.queue_url, MessageBody=message)
        assert client.lambda_.invoke("build_start", sns_event(client, message)).payload == "already-running"
        rig.stop()  # close read an empty queue just before the request was counted, and stopped the builder
        assert client.lambda_.invoke("sweep", scheduled_event(client)).payload == "started"
    assert rig.state() == "running"


def test_in_flight_messages_on_a_stopped_builder_mean_a_dead_agent_and_start_it(rig, sweep, caplog):
    queue_request(rig)
    assert rig.client("sqs").receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=600)["Messages"]
    rig.stop()
    assert sweep() == "started"
    assert rig.state() == "running"
    assert "(0 waiting, 1 in flight, 0 delayed)" in caplog.text
    assert "its agent died" in caplog.text


def test_delayed_request_on_a_stopped_builder_starts_it(rig, sweep):
    queue_request(rig, DelaySeconds=600)
    rig.stop()
    assert sweep() == "started"
    assert rig.state() == "running"


def test_empty_queue_leaves_the_stopped_builder_stopped(rig, sweep, caplog):
    rig.stop()
    assert sweep() == "queue-empty"
    assert rig.state() == "stopped"
    assert f"builder {rig.instance_id} is stopped and the build queue is empty; nothing to do" in caplog.text


def test_running_builder_is_left_alone(rig, sweep, caplog):
    queue_request(rig)
    assert sweep() == "already-running"
    assert rig.state() == "running"
    assert f"builder {rig.instance_id} already running; its agent serves the queue" in caplog.text


def test_stopping_builder_is_logged_and_left_for_the_next_sweep(monkeypatch, tmp_path, caplog):
    with threaded_moto_rig(monkeypatch) as (rig, set_state):
        queue_request(rig)
        set_state("stopping")
        module = import_app(monkeypatch, rig.env())
        with chalice_client(module, tmp_path) as client:
            assert client.lambda_.invoke("sweep", scheduled_event(client)).payload == "stopping"
            assert rig.state() == "stopping"
            set_state("stopped")  # five minutes later
            assert client.lambda_.invoke("sweep", scheduled_event(client)).payload == "started"
        assert rig.state() == "running"
    assert "the next sweep starts it if work is waiting" in caplog.text


def test_instance_without_builder_tag_is_never_started(rig, sweep, caplog):
    other = rig.new_instance({"pushdeploy:role": "web"})
    rig.stop(other)
    queue_request(rig)
    assert sweep(BUILDER_INSTANCE_ID=other) == "refused"
    assert rig.state(other) == "stopped"
    assert f"sweep: refusing to start: {other} lacks the builder tag pushdeploy:role=builder" in caplog.text


def test_terminated_builder_is_reported(rig, sweep, caplog):
    queue_request(rig)
    rig.client("ec2").terminate_instances(InstanceIds=[rig.instance_id])
    assert sweep() == "refused"
    assert f"builder {rig.instance_id} is terminated and cannot be started" in caplog.text


def test_missing_settings_raise_one_error_listing_them(rig, sweep):
    with pytest.raises(SettingsError, match="missing BUILDER_INSTANCE_ID, BUILD_QUEUE_URL"):
        sweep(BUILDER_INSTANCE_ID="", BUILD_QUEUE_URL="")


def test_queue_that_does_not_exist_is_a_configuration_error(rig, sweep):
    from chalicelib.errors import AwsCallError

    rig.stop()
    with pytest.raises(AwsCallError, match="no-such-queue"):
        sweep(BUILD_QUEUE_URL=rig.queue_url.rsplit("/", 1)[0] + "/no-such-queue")
    assert rig.state() == "stopped"


def test_unreachable_aws_is_retryable(rig, sweep, monkeypatch):
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match=f"describing instance {rig.instance_id} failed"):
        sweep()
