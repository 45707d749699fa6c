"""The scheduled reconcile: the builder runs exactly while there is work an agent serves, and what is stuck is
announced once: a stale request, a builder it had to stop, each dead letter.

Time passes the way the rig can make it pass: the moto server runs in this process for the stories that
need an old launch, an old heartbeat or an old request, and those moments are set in moto's state
(as ``threaded_moto_rig`` sets a stopping state). Everything else goes through boto3 and HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.builders.heartbeat import TAG_KEY, make_beat
from chalicelib.contracts import (
    DEAD_LETTER_REASON_ATTRIBUTE,
    Alert,
    BuildRequest,
    parse_close_message,
    utc_now,
)
from chalicelib.errors import AwsCallError, RetryableError, SettingsError
from tests.lambda_app import (
    PipelineRig,
    chalice_client,
    function_invoker,
    import_app,
    make_pipeline_rig,
    sns_event,
    threaded_moto_rig,
)

SHA = "c" * 40


def scheduled_event(client) -> dict:
    """What EventBridge sends a scheduled function (Chalice's app.schedule)."""
    return client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                           resources=["arn:aws:events:us-east-1:123456789012:rule/pushdeploy-reconcile"])


class Watch:
    """A queue subscribed to the close topic: what the team would hear (notify posts every alert)."""

    def __init__(self, rig: PipelineRig) -> None:
        sqs = rig.client("sqs")
        self._sqs = sqs
        self.url = sqs.create_queue(QueueName="watch-close")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rig.client("sns").subscribe(TopicArn=rig.close_topic_arn, Protocol="sqs", Endpoint=arn,
                                    Attributes={"RawMessageDelivery": "true"})
        self.seen: list[Alert] = []

    def alerts(self, kind: str | None = None) -> list[Alert]:
        """Every alert published so far (drains the queue into ``seen``)."""
        while batch := self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                parsed = parse_close_message(message["Body"])
                assert isinstance(parsed, Alert)
                self.seen.append(parsed)
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [a for a in self.seen if kind is None or a.kind == kind]


def queue_request(rig: PipelineRig, commit: str = SHA, **options) -> str:
    body = BuildRequest("sample", "production", commit, "eventbridge", "evt-1", utc_now()).to_json()
    return rig.client("sqs").send_message(QueueUrl=rig.queue_url, MessageBody=body, **options)["MessageId"]


def beat(rig: PipelineRig, state: str, since_minutes: float, beat_minutes: float = 0.5) -> str:
    now = datetime.now(UTC)
    value = make_beat(state, now - timedelta(minutes=since_minutes), now - timedelta(minutes=beat_minutes)).tag_value()
    set_tag(rig, value)
    return value


def set_tag(rig: PipelineRig, value: str) -> None:
    rig.client("ec2").create_tags(Resources=[rig.instance_id], Tags=[{"Key": TAG_KEY, "Value": value}])


# ------------------------------------------------------------------ stories on the shared moto server


@pytest.fixture
def rig(aws) -> PipelineRig:
    return make_pipeline_rig(aws)


@pytest.fixture
def watch(rig) -> Watch:
    return Watch(rig)


@pytest.fixture
def reconcile(rig, monkeypatch, tmp_path):
    return function_invoker(rig, monkeypatch, tmp_path, "reconcile", lambda client, _: scheduled_event(client))


def test_waiting_request_on_a_stopped_builder_starts_it(rig, reconcile, caplog):
    queue_request(rig)
    rig.stop()
    assert reconcile()["builder"] == "started"
    assert rig.state() == "running"
    assert (f"build queue not empty (1 waiting, 0 in flight, 0 delayed) while builder {rig.instance_id} "
            "was stopped: started it") in caplog.text


def test_request_stranded_by_a_stop_is_picked_up_by_the_next_reconcile(rig, monkeypatch, tmp_path):
    """The race close cannot see: the request arrives while the builder still runs, then it stops."""
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        message = BuildRequest("sample", "production", "b" * 40, "eventbridge", "evt-2", utc_now()).to_json()
        rig.client("sqs").send_message(QueueUrl=rig.queue_url, MessageBody=message)
        assert client.lambda_.invoke("build_start", sns_event(client, message)).payload == "already-running"
        rig.stop()  # close read an empty queue just before the request was counted, and stopped the builder
        assert client.lambda_.invoke("reconcile", scheduled_event(client)).payload["builder"] == "started"
    assert rig.state() == "running"


def test_in_flight_messages_on_a_stopped_builder_mean_a_dead_agent_and_start_it(rig, reconcile, caplog):
    queue_request(rig)
    assert rig.client("sqs").receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=600)["Messages"]
    rig.stop()
    assert reconcile()["builder"] == "started"
    assert rig.state() == "running"
    assert "(0 waiting, 1 in flight, 0 delayed)" in caplog.text
    assert "its agent died" in caplog.text


def test_delayed_request_on_a_stopped_builder_starts_it(rig, reconcile):
    queue_request(rig, DelaySeconds=600)
    rig.stop()
    assert reconcile()["builder"] == "started"
    assert rig.state() == "running"


def test_empty_queue_leaves_the_stopped_builder_stopped(rig, reconcile, watch, caplog):
    rig.stop()
    assert reconcile() == {"builder": "queue-empty", "builders": {rig.instance_id: "queue-empty"},
                           "stale_request": "fresh", "dead_letters": 0}
    assert rig.state() == "stopped"
    assert f"builder {rig.instance_id} is stopped and the build queue is empty; nothing to do" in caplog.text
    assert watch.alerts() == []


def test_a_busy_agent_is_left_running(rig, reconcile, watch, caplog):
    queue_request(rig)
    beat(rig, "busy", since_minutes=50)
    assert reconcile()["builder"] == "already-running"
    assert rig.state() == "running"
    assert f"builder {rig.instance_id} is running (agent busy, last beat 0 min ago; queue: 1 waiting" in caplog.text
    assert watch.alerts() == []


def test_a_just_launched_builder_without_a_beat_is_left_running(rig, reconcile, watch, caplog):
    assert reconcile()["builder"] == "already-running"
    assert rig.state() == "running"
    assert "no readable heartbeat yet, launched 0 min ago" in caplog.text
    assert watch.alerts() == []


def test_instance_without_builder_tag_is_never_started(rig, reconcile, caplog):
    other = rig.new_instance({"pushdeploy:role": "web"})
    rig.stop(other)
    queue_request(rig)
    assert reconcile(BUILDER_INSTANCE_ID=other)["builder"] == "refused"
    assert rig.state(other) == "stopped"
    assert f"reconcile: leaving the builder alone: {other} lacks the builder tag pushdeploy:role=builder" in caplog.text


def test_instance_without_builder_tag_is_never_stopped(rig, reconcile, caplog):
    other = rig.new_instance({"pushdeploy:role": "web", TAG_KEY: "garbage"})
    assert reconcile(BUILDER_INSTANCE_ID=other)["builder"] == "refused"
    assert rig.state(other) == "running"


def test_terminated_builder_is_reported(rig, reconcile, caplog):
    queue_request(rig)
    rig.client("ec2").terminate_instances(InstanceIds=[rig.instance_id])
    assert reconcile()["builder"] == "refused"
    assert f"builder {rig.instance_id} is terminated and cannot be started" in caplog.text


def test_missing_settings_raise_one_error_listing_them(rig, reconcile):
    with pytest.raises(SettingsError, match=r"missing BUILDER_INSTANCE_IDS \(or BUILDER_INSTANCE_ID\), "
                                            "BUILD_QUEUE_URL, DEAD_LETTER_QUEUE_URL"):
        reconcile(BUILDER_INSTANCE_ID="", BUILD_QUEUE_URL="", DEAD_LETTER_QUEUE_URL="")


def test_queue_that_does_not_exist_is_a_configuration_error(rig, reconcile):
    rig.stop()
    with pytest.raises(AwsCallError, match="no-such-queue"):
        reconcile(BUILD_QUEUE_URL=rig.queue_url.rsplit("/", 1)[0] + "/no-such-queue")
    assert rig.state() == "stopped"


def test_unreachable_aws_is_retryable(rig, reconcile, monkeypatch):
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match=f"describing instance {rig.instance_id} failed"):
        reconcile()


# ------------------------------------------------------------------ dead letters


def dead_letter(rig: PipelineRig, body: str, reason: str | None = None) -> str:
    attributes = {DEAD_LETTER_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason}} if reason else {}
    return rig.client("sqs").send_message(QueueUrl=rig.dead_letter_queue_url, MessageBody=body,
                                          MessageAttributes=attributes)["MessageId"]


def redriven_by_sqs(rig: PipelineRig, commit: str) -> str:
    """A request whose agent died five times building it: SQS's own redrive moves it (no reason attribute)."""
    message_id = queue_request(rig, commit)
    sqs = rig.client("sqs")
    for _ in range(5):
        assert sqs.receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=0)["Messages"]
    assert sqs.receive_message(QueueUrl=rig.queue_url, VisibilityTimeout=0).get("Messages", []) == []
    return message_id


def dlq_count(rig: PipelineRig) -> int:
    found = rig.client("sqs").get_queue_attributes(QueueUrl=rig.dead_letter_queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in found.values())


def test_each_dead_letter_is_announced_once_with_pipeline_commit_and_reason(rig, reconcile, watch, caplog):
    rig.stop()
    rejected = BuildRequest("sample", "staging", "d" * 40, "eventbridge", "evt-9", utc_now()).to_json()
    dead_letter(rig, rejected, reason="no [[pipelines]] entry serves sample/staging")
    redriven_by_sqs(rig, "e" * 40)
    dead_letter(rig, '{"type": "pushdeploy.build_request", "version": 1, "repository": 7}')

    counts = [reconcile()["dead_letters"] for _ in range(3)]

    assert counts == [3, 0, 0]
    alerts = {a.commit or "garbage": a for a in watch.alerts("dead_letter")}
    assert len(watch.alerts()) == 3
    assert alerts["d" * 40].pipeline == "sample/staging"
    assert alerts["d" * 40].summary == ("Build request for sample/staging at ddddddd was dead-lettered: "
                                        "no [[pipelines]] entry serves sample/staging")
    assert alerts["e" * 40].pipeline == "sample/production"
    assert alerts["e" * 40].summary == (
        "Build request for sample/production at eeeeeee was dead-lettered: received 5 times without a result "
        "(the agent crashed or was stopped while building it)")
    assert alerts["garbage"].pipeline is None
    assert alerts["garbage"].summary == ("A build request that does not parse was dead-lettered: no reason recorded, "
                                         "and it was never delivered from the build queue (sent to the dead-letter "
                                         "queue directly)")
    assert "not a build request (source: required non-empty string); body starts '{\"type\"" in \
        alerts["garbage"].detail
    assert dlq_count(rig) == 3, "the dead letters stay for inspection or redrive, marked as announced"
    assert rig.state() == "stopped"


def test_dead_letters_are_announced_in_bounded_batches(rig, reconcile, watch):
    rig.stop()
    for n in range(23):
        dead_letter(rig, BuildRequest("sample", "production", f"{n:040x}", "manual", f"e{n}", utc_now()).to_json(),
                    reason="unknown pipeline")
    assert [reconcile()["dead_letters"] for _ in range(4)] == [10, 10, 3, 0]
    assert sorted(a.commit for a in watch.alerts("dead_letter")) == [f"{n:040x}" for n in range(23)]


def test_a_dead_letter_inside_an_sns_envelope_is_read(rig, reconcile, watch):
    request = BuildRequest("sample", "production", SHA, "eventbridge", "evt-3", utc_now()).to_json()
    dead_letter(rig, json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": request}), reason="rejected")
    rig.stop()
    assert reconcile()["dead_letters"] == 1
    [alert] = watch.alerts("dead_letter")
    assert (alert.pipeline, alert.commit) == ("sample/production", SHA)


# ------------------------------------------------------------------ stories where time passes (moto in process)


@dataclass
class Clockwork:
    """Moments in moto's state: when the builder was launched, when a request was sent."""

    rig: PipelineRig
    set_state: object

    def launched(self, minutes_ago: float) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.utils import utcnow
        from moto.ec2.models import ec2_backends

        instance = ec2_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_instance(self.rig.instance_id)
        instance.launch_time = utcnow() - timedelta(minutes=minutes_ago)

    def requests_sent(self, minutes_ago: float) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[self.rig.queue_url.rsplit("/", 1)[1]]
        for message in queue._messages:
            message.sent_timestamp -= int(minutes_ago * 60_000)


@pytest.fixture
def timed(monkeypatch, tmp_path) -> Iterator[tuple[Clockwork, Watch, object]]:
    with threaded_moto_rig(monkeypatch) as (rig, set_state):
        yield Clockwork(rig, set_state), Watch(rig), function_invoker(
            rig, monkeypatch, tmp_path, "reconcile", lambda client, _: scheduled_event(client))


def test_an_idle_agent_with_an_empty_queue_is_stopped_once_with_an_alert(timed, caplog):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    value = beat(clock.rig, "idle", since_minutes=20)

    assert reconcile()["builder"] == "stopped-idle"
    assert clock.rig.state() == "stopped"
    assert reconcile()["builder"] == "queue-empty", "a second run changes nothing more"

    [alert] = watch.alerts()
    assert alert.kind == "builder_stopped"
    assert alert.summary == (f"Builder {clock.rig.instance_id} stopped by the reconcile: its agent has been idle for "
                             "20 min with an empty build queue (close should have stopped it on the agent's end of "
                             "run: that path failed)")
    assert value in alert.detail and "0 waiting, 0 in flight, 0 delayed" in alert.detail
    assert f"reconcile: stopped builder {clock.rig.instance_id}: its agent has been idle for 20 min" in caplog.text


def test_an_agent_idle_under_the_threshold_is_left_running(timed):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    beat(clock.rig, "idle", since_minutes=10)
    assert reconcile(BUILDER_IDLE_MINUTES="15")["builder"] == "already-running"
    assert reconcile(BUILDER_IDLE_MINUTES="5")["builder"] == "stopped-idle", "the threshold is the stage's setting"
    assert len(watch.alerts("builder_stopped")) == 1


def test_an_idle_agent_with_work_waiting_is_left_to_serve_it(timed):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    queue_request(clock.rig)
    beat(clock.rig, "idle", since_minutes=30)
    assert reconcile()["builder"] == "already-running"
    assert watch.alerts() == []


def test_a_silent_agent_with_an_empty_queue_is_stopped(timed):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    beat(clock.rig, "busy", since_minutes=40, beat_minutes=20)
    assert reconcile()["builder"] == "stopped-silent"
    assert clock.rig.state() == "stopped"
    [alert] = watch.alerts("builder_stopped")
    assert "its agent has been silent for 20 min with an empty build queue" in alert.summary


def test_a_dead_agent_with_work_waiting_is_stopped_and_the_next_run_boots_it_afresh(timed, caplog):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    queue_request(clock.rig)
    beat(clock.rig, "busy", since_minutes=40, beat_minutes=25)

    assert reconcile()["builder"] == "stopped-silent"
    [alert] = watch.alerts("builder_stopped")
    assert ("its agent has been silent for 25 min while requests wait (1 waiting, 0 in flight, 0 delayed): its agent "
            "is dead; the next reconcile starts a fresh boot for them") in alert.summary

    assert reconcile()["builder"] == "started"
    assert reconcile()["builder"] == "already-running", "the fresh boot has its grace: LaunchTime is new"
    assert len(watch.alerts("builder_stopped")) == 1


def test_a_builder_started_after_a_long_stop_is_not_stopped_before_its_agent_beats(timed, caplog):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=180)
    clock.rig.stop()
    queue_request(clock.rig)
    assert reconcile()["builder"] == "started"
    assert reconcile()["builder"] == "already-running"
    assert clock.rig.state() == "running"
    assert "no readable heartbeat yet, launched 0 min ago" in caplog.text


def test_a_beat_left_from_the_previous_boot_does_not_stop_a_just_started_builder(timed):
    clock, watch, reconcile = timed
    beat(clock.rig, "idle", since_minutes=180, beat_minutes=120)
    clock.launched(minutes_ago=240)
    clock.rig.stop()
    clock.rig.client("ec2").start_instances(InstanceIds=[clock.rig.instance_id])  # build_start, on a request
    assert reconcile()["builder"] == "already-running"
    assert watch.alerts() == []


@pytest.mark.parametrize("value", ["", "garbage", "idle since=yesterday beat=today", "dead since=2026-01-01T00:00:00Z "
                                   "beat=2026-01-01T00:00:00Z", "idle since=2026-13-45T99:99:99Z beat=x"])
def test_a_garbled_heartbeat_reads_as_silence(timed, value):
    clock, watch, reconcile = timed
    set_tag(clock.rig, value)
    assert reconcile()["builder"] == "already-running", "silence counts from the launch: a new boot has its grace"
    clock.launched(minutes_ago=60)
    assert reconcile()["builder"] == "stopped-silent"


def test_a_beat_from_the_future_is_ignored(timed, caplog):
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    beat(clock.rig, "busy", since_minutes=0, beat_minutes=-600)
    assert reconcile()["builder"] == "stopped-silent"
    assert "its heartbeat lies in the future, read as none; its agent has been silent for 60 min" in caplog.text


def test_a_stale_request_is_announced_once_per_stretch(timed, caplog):
    clock, watch, reconcile = timed
    beat(clock.rig, "busy", since_minutes=1)  # the builder rules have nothing to do here
    queue_request(clock.rig)
    clock.requests_sent(minutes_ago=10)
    assert reconcile()["stale_request"] == "fresh"

    clock.requests_sent(minutes_ago=25)  # 35 minutes old now
    assert [reconcile()["stale_request"] for _ in range(3)] == ["announced", "already-announced", "already-announced"]
    [alert] = watch.alerts("stale_request")
    assert alert.summary == "The oldest build request has waited 35 min (threshold 30 min)"
    assert "1 waiting, 0 in flight, 0 delayed" in alert.detail

    sqs = clock.rig.client("sqs")
    for message in sqs.receive_message(QueueUrl=clock.rig.queue_url, MaxNumberOfMessages=10)["Messages"]:
        sqs.delete_message(QueueUrl=clock.rig.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert reconcile()["stale_request"] == "cleared"
    assert reconcile()["stale_request"] == "fresh"

    queue_request(clock.rig, "f" * 40)
    clock.requests_sent(minutes_ago=45)
    assert reconcile()["stale_request"] == "announced", "a new stuck stretch is announced again"
    assert len(watch.alerts("stale_request")) == 2
    assert "oldest request in pushdeploy-build is 35 min old (threshold 30 min): announced" in caplog.text


def test_the_stale_threshold_is_the_stages_setting(timed):
    clock, watch, reconcile = timed
    beat(clock.rig, "busy", since_minutes=1)
    queue_request(clock.rig)
    clock.requests_sent(minutes_ago=10)
    assert reconcile(STALE_REQUEST_MINUTES="5")["stale_request"] == "announced"


def test_a_stopping_builder_is_logged_and_left_for_the_next_run(timed, caplog):
    clock, watch, reconcile = timed
    queue_request(clock.rig)
    clock.set_state("stopping")
    assert reconcile()["builder"] == "stopping"
    assert clock.rig.state() == "stopping"
    clock.set_state("stopped")  # five minutes later
    assert reconcile()["builder"] == "started"
    assert clock.rig.state() == "running"
    assert "the next run starts it if work is waiting" in caplog.text


def test_a_stop_the_close_topic_cannot_hear_about_is_retried_with_its_alert(timed, monkeypatch):
    """The alert goes out before the stop, so a publish that fails leaves the builder for the retry to stop
    and announce; the other order would stop silently."""
    clock, watch, reconcile = timed
    clock.launched(minutes_ago=60)
    beat(clock.rig, "idle", since_minutes=20)
    with pytest.raises(AwsCallError, match="publishing a builder_stopped alert"):
        reconcile(CLOSE_TOPIC_ARN=clock.rig.close_topic_arn + "-gone")
    assert clock.rig.state() == "running"
    assert reconcile()["builder"] == "stopped-idle"  # Lambda's retry, with the topic back
    assert len(watch.alerts("builder_stopped")) == 1
