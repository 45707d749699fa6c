"""A build request reaches build_start: the builder starts if it is stopped, and only the builder."""

from __future__ import annotations

import json

import pytest

from chalicelib.contracts import BuildRequest, utc_now
from chalicelib.errors import RetryableError, SettingsError
from tests.lambda_app import PipelineRig, chalice_client, import_app, make_pipeline_rig, sns_event

COMMIT = "a" * 40


def request_message() -> str:
    return BuildRequest("sample", "production", COMMIT, "eventbridge", "evt-1", utc_now()).to_json()


@pytest.fixture
def rig(aws) -> PipelineRig:
    return make_pipeline_rig(aws)


@pytest.fixture
def invoke(rig, monkeypatch, tmp_path):
    def run(message: str, **env: str):
        module = import_app(monkeypatch, rig.env(**env))
        with chalice_client(module, tmp_path) as client:
            return client.lambda_.invoke("build_start", sns_event(client, message)).payload
    return run


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
    assert "missing BUILDER_INSTANCE_ID, BUILD_QUEUE_URL" in text
    assert "invalid BUILDER_TAG: expected key=value, got 'role'" in text


def test_stopping_builder_raises_retryable_and_the_retry_starts_it(stopping_rig, monkeypatch, tmp_path):
    """Lambda's async retry is the recovery path: the first attempt fails, a later one starts it."""
    rig, set_state = stopping_rig
    set_state("stopping")
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        with pytest.raises(RetryableError, match=f"builder {rig.instance_id} is stopping"):
            client.lambda_.invoke("build_start", sns_event(client, request_message()))
        set_state("stopped")  # what EC2 reports a little later, when the retry runs
        assert client.lambda_.invoke("build_start", sns_event(client, request_message())).payload == "started"
    assert rig.state() == "running"


@pytest.fixture
def stopping_rig(monkeypatch):
    """A builder that can be caught in the 'stopping' state.

    moto's EC2 has no transitional states (stop_instances is 'stopped' at once), so this test runs
    its own moto server in a thread of this process, where the instance's state can be set the way
    EC2 reports it during a real stop. Everything else still goes through boto3 and HTTP.
    """
    import urllib.request

    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    rig = make_pipeline_rig(boto3.Session(region_name="us-east-1"))
    codes = {"stopping": 64, "stopped": 80}

    def set_state(name: str) -> None:
        state = ec2_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_instance(rig.instance_id)._state
        state.name, state.code = name, codes[name]

    yield rig, set_state
    server.stop()


def test_unreachable_ec2_is_retryable(rig, invoke, monkeypatch):
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match=f"describing instance {rig.instance_id} failed"):
        invoke(request_message())
