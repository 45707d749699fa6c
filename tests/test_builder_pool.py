"""A pool of three tagged builders in moto: build_start starts one per waiting pipeline that no builder serves,
close stops a builder with nothing left to serve, the reconcile starts builders for what waits; never more than
the pool, never an instance outside it or without the builder tag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.builders.heartbeat import TAG_KEY, make_beat
from chalicelib.builders.pool import CLAIM_TAG_KEY
from chalicelib.contracts import BuildRequest, EndOfRun, utc_now
from tests.lambda_app import BUILDER_TAG, PipelineRig, function_invoker, make_pipeline_rig, sns_event, wake_event
from tests.test_reconcile import scheduled_event


def request(repository: str, branch: str = "main", commit: str = "a" * 40, event: str = "evt") -> str:
    return BuildRequest(repository, branch, commit, "webhook", f"{event}-{repository}", utc_now(),
                        trigger="github").to_json()


class Pool:
    def __init__(self, rig: PipelineRig, size: int = 3) -> None:
        self.rig = rig
        self.ids = [rig.instance_id] + [rig.new_instance(dict([BUILDER_TAG])) for _ in range(size - 1)]

    def env(self, **overrides: str) -> dict[str, str]:
        return {"BUILDER_INSTANCE_ID": "", "BUILDER_INSTANCE_IDS": ",".join(self.ids),
                "WAKE_QUEUE_ARN": self.rig.wake_queue_arn, **overrides}

    def states(self) -> list[str]:
        return [self.rig.state(i) for i in self.ids]

    def stop_all(self) -> None:
        self.rig.client("ec2").stop_instances(InstanceIds=self.ids)

    def busy(self, instance_id: str, group: str) -> None:
        now = datetime.now(UTC)
        value = make_beat("busy", now - timedelta(minutes=1), now, group).tag_value()
        self.rig.client("ec2").create_tags(Resources=[instance_id], Tags=[{"Key": TAG_KEY, "Value": value}])


@pytest.fixture
def pool(aws) -> Pool:
    return Pool(make_pipeline_rig(aws))


@pytest.fixture
def build_start(pool, monkeypatch, tmp_path):
    run = function_invoker(pool.rig, monkeypatch, tmp_path, "build_start", wake_event)
    return lambda messages, **env: run(messages, **pool.env(**env))


@pytest.fixture
def close(pool, monkeypatch, tmp_path):
    run = function_invoker(pool.rig, monkeypatch, tmp_path, "close", sns_event)
    return lambda message, **env: run(message, **pool.env(**env))


@pytest.fixture
def reconcile(pool, monkeypatch, tmp_path):
    run = function_invoker(pool.rig, monkeypatch, tmp_path, "reconcile", lambda client, _: scheduled_event(client))
    return lambda **env: run(None, **pool.env(**env))


def test_three_waiting_pipelines_start_the_three_builders(pool, build_start, caplog):
    pool.stop_all()
    assert build_start([request("alpha"), request("beta"), request("gamma")]) == "started"
    assert pool.states() == ["running"] * 3
    for instance_id in pool.ids:
        assert f"started builder {instance_id} for alpha/main, beta/main, gamma/main" in caplog.text


def test_more_pipelines_than_builders_start_every_builder_and_no_more(pool, build_start):
    pool.stop_all()
    outsider = pool.rig.new_instance(dict([BUILDER_TAG]))  # tagged, but not in the pool
    pool.rig.stop(outsider)
    assert build_start([request(name) for name in ("a1", "a2", "a3", "a4", "a5")]) == "started"
    assert pool.states() == ["running"] * 3 and pool.rig.state(outsider) == "stopped"


def test_several_pushes_of_one_pipeline_start_one_builder(pool, build_start):
    pool.stop_all()
    pushes = [request("alpha", commit=c * 40, event=f"push-{c}") for c in "abc"]
    assert build_start(pushes) == "started"
    assert sorted(pool.states()) == ["running", "stopped", "stopped"]


def test_a_pipeline_a_busy_builder_builds_starts_nothing_more(pool, build_start):
    pool.stop_all()
    pool.rig.client("ec2").start_instances(InstanceIds=[pool.ids[0]])
    pool.busy(pool.ids[0], "alpha/main")
    assert build_start([request("alpha", event="later")]) == "already-running"
    assert pool.states() == ["running", "stopped", "stopped"]
    assert build_start([request("alpha", event="again"), request("beta")]) == "started"
    assert pool.states() == ["running", "running", "stopped"]


def test_pushes_that_trickle_in_while_builders_boot_each_get_a_builder_once(pool, build_start):
    pool.stop_all()
    assert build_start([request("alpha")]) == "started"
    [first] = [i for i, state in zip(pool.ids, pool.states(), strict=True) if state == "running"]
    tags = pool.rig.client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [first]}])["Tags"]
    assert {t["Key"]: t["Value"].split(" ")[0] for t in tags}[CLAIM_TAG_KEY] == "alpha/main"
    assert build_start([request("beta")]) == "started", "the booting builder is alpha's, not beta's"
    assert build_start([request("alpha", event="second-push"), request("beta", event="second-push")]) == \
        "already-running"
    assert sorted(pool.states()) == ["running", "running", "stopped"]


def test_an_idle_builder_takes_the_next_pipeline_without_a_start(pool, build_start):
    pool.stop_all()
    pool.rig.client("ec2").start_instances(InstanceIds=[pool.ids[1]])  # booting: no beat yet, it will receive
    assert build_start([request("alpha")]) == "already-running"
    assert pool.states() == ["stopped", "running", "stopped"]


def test_malformed_records_are_skipped_and_the_batch_still_starts_builders(pool, build_start, caplog):
    pool.stop_all()
    assert build_start(["not json", request("alpha"), request("beta").replace('"main"', '"bad..branch"')]) == "started"
    assert sorted(pool.states()) == ["running", "stopped", "stopped"]
    assert "malformed build request, builder not started: (message): not JSON" in caplog.text
    assert "(wake record 2)" in caplog.text
    assert build_start(["{}", "build?"]) == "malformed"


def test_a_pool_member_without_the_builder_tag_is_never_started(pool, build_start, caplog):
    untagged = pool.rig.new_instance({"pushdeploy:role": "web"})
    pool.stop_all()
    pool.rig.stop(untagged)
    ids = ",".join([untagged, *pool.ids[1:]])
    assert build_start([request(n) for n in ("a1", "a2", "a3")], BUILDER_INSTANCE_IDS=ids) == "started"
    assert pool.rig.state(untagged) == "stopped" and pool.states()[1:] == ["running", "running"]


# ---------------------------------------------------------------- close


def end_of_run(instance_id: str | None) -> str:
    return EndOfRun(builder_instance_id=instance_id, sent_at=utc_now()).to_json()


def test_close_stops_a_builder_while_another_builds_what_is_in_flight(pool, close):
    sqs = pool.rig.client("sqs")
    sqs.send_message(QueueUrl=pool.rig.queue_url, MessageBody=request("alpha"))
    assert sqs.receive_message(QueueUrl=pool.rig.queue_url, VisibilityTimeout=600)["Messages"]  # builder 0 has it
    assert close(end_of_run(pool.ids[1])) == "stopped"
    assert pool.states() == ["running", "stopped", "running"]
    sqs.send_message(QueueUrl=pool.rig.queue_url, MessageBody=request("beta"))
    assert close(end_of_run(pool.ids[2])) == "queue-not-empty"
    assert pool.states() == ["running", "stopped", "running"]


def test_close_refuses_an_instance_outside_the_pool_and_a_plain_stop_naming_none(pool, close, caplog):
    outsider = pool.rig.new_instance(dict([BUILDER_TAG]))
    assert close(end_of_run(outsider)) == "refused"
    assert f"end of run names {outsider}, not one of the configured builders {', '.join(pool.ids)}" in caplog.text
    assert close("stop") == "refused"
    assert pool.states() == ["running"] * 3 and pool.rig.state(outsider) == "running"


# ---------------------------------------------------------------- reconcile


def test_reconcile_starts_one_builder_per_waiting_request_up_to_the_pool(pool, reconcile):
    pool.stop_all()
    sqs = pool.rig.client("sqs")
    for name in ("alpha", "beta"):
        sqs.send_message(QueueUrl=pool.rig.queue_url, MessageBody=request(name))
    result = reconcile()
    assert result["builder"] == "started"
    assert result["builders"] == {pool.ids[0]: "started", pool.ids[1]: "started", pool.ids[2]: "not-needed"}
    assert pool.states() == ["running", "running", "stopped"]
    assert reconcile()["builders"] == {pool.ids[0]: "already-running", pool.ids[1]: "already-running",
                                       pool.ids[2]: "not-needed"}, "a second run changes nothing"
