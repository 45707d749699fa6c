"""The rig's events carry the time they HAPPENED, read from each part's own record, not the time the rig read it,
and ``rig.events`` stays in that order however late the records arrive."""

import json
import time
from types import SimpleNamespace

import pytest

from agent.progress import utc_stamp
from localrig.rig import LocalRig

CLOSE = "arn:aws:sns:us-east-1:123456789012:pushdeploy-close"
REQUEST = "arn:aws:sns:us-east-1:123456789012:pushdeploy-request"


@pytest.fixture
def rig(tmp_path):
    """A rig that is not started: its narration reads the files the parts write, here written by the test."""
    made = LocalRig(tmp_path, [])
    made.journal = tmp_path / "lambda-journal.jsonl"
    made.outputs = {"CLOSE_TOPIC_ARN": CLOSE, "REQUEST_TOPIC_ARN": REQUEST}
    return made


def _journal(rig, *records):
    with open(rig.journal, "a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


def test_lambda_records_keep_the_journal_s_time(rig):
    then = time.time() - 30  # written half a minute before the rig reads it
    _journal(rig, {"time": then, "kind": "invoke", "function": "request", "attempt": 1, "trigger": "codecommit"},
             {"time": then + 0.2, "kind": "result", "function": "request", "seconds": 0.2, "result": "ok"})

    rig.poll_journal()

    assert [(e.stage, e.time) for e in rig.events] == [("lambda:request", then), ("lambda:request", then + 0.2)]
    assert all(e.seen >= then + 30 for e in rig.events)


def test_an_sns_notification_is_placed_at_its_publish_timestamp(rig):
    published = time.time() - 5
    stamp = utc_stamp(published)  # SNS's Timestamp format: 2026-11-29T23:04:05.123Z
    _journal(rig, {"time": published + 1.5, "kind": "sns", "topic": REQUEST, "message": "{}", "functions": [],
                   "published": stamp})

    rig.poll_journal()

    assert rig.events[0].stage == "sns"
    assert rig.events[0].time == pytest.approx(published, abs=0.001)


def test_agent_step_lines_carry_their_own_utc_time_and_other_lines_follow_the_last_one(rig, tmp_path):
    log = tmp_path / "agent-1.log"
    started = float(round(time.time()) - 60)  # whole seconds: the stamps keep milliseconds exactly
    first, second = started + 1.25, started + 7.5
    log.write_text(f"[    1.2s {utc_stamp(first)}] config ok (0.0s)\n"
                   "docker: some tool output without a stamp\n"
                   f"[    7.5s {utc_stamp(second)}] source ok (0.3s) commit=abc1234\n")
    rig.builders = [SimpleNamespace(boots=[SimpleNamespace(number=1, log_path=log, started=started)])]

    rig._poll_agent_logs()

    assert [(e.text, round(e.time - started, 3)) for e in rig.events] == [
        ("config ok (0.0s)", 1.25), ("docker: some tool output without a stamp", 1.25),
        ("source ok (0.3s) commit=abc1234", 7.5)]


def test_events_are_kept_in_happened_order_whatever_order_they_arrive_in(rig):
    now = time.time()
    rig.emit("slack", "notification received", at=now - 1)
    rig.emit("builder", "push ok (0.3s)", at=now - 3)
    rig.emit("lambda:notify", "invoked", at=now - 2)
    rig.emit("docker", "the rig's own action, now")

    assert [e.stage for e in rig.events] == ["builder", "lambda:notify", "slack", "docker"]
    assert [e.time for e in rig.events] == sorted(e.time for e in rig.events)


def test_builder_watch_events_use_the_watch_s_own_time(rig):
    at = time.time() - 10
    rig._on_builder("instance-state", {"instance": "i-1", "from": "stopped", "to": "running", "at": at})

    assert (rig.events[0].stage, rig.events[0].time) == ("ec2", at)


def test_a_request_reaching_its_function_through_the_wake_queue_is_placed_at_its_publish_timestamp(rig):
    published = float(round(time.time()) - 5)  # whole seconds: the stamp keeps milliseconds exactly
    envelope = {"Type": "Notification", "TopicArn": REQUEST, "Message": "{}", "Timestamp": utc_stamp(published)}
    _journal(rig, {"time": published + 2, "kind": "sqs", "function": "build_start",
                   "queue": "arn:aws:sqs:us-east-1:123456789012:pushdeploy-wake", "message_ids": ["m"],
                   "bodies": [json.dumps(envelope)], "receive_counts": [1]})

    rig.poll_journal()

    assert [(e.stage, round(e.time - published, 3)) for e in rig.events] == [("sns", 0), ("sqs", 2)]
    assert rig.events[1].text == "pushdeploy-wake: 1 messages -> build_start"
