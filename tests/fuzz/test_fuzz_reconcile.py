"""Fuzzing the reconcile with what it reads from outside: dead-letter bodies and message attributes (anything a
publisher or the agent put there) and the builder's heartbeat tag (anything someone with ec2:CreateTags wrote).

Generated from mutations of the real inputs (a build request, its SNS envelope, an agent beat): dropped keys,
wrong types, deep nesting, huge strings, unicode and control characters. Each pure reader gets 1,000 inputs;
the handler itself gets a smaller run on the moto server (each example is a dozen AWS calls). The seed is fixed
(``derandomize``); hypothesis prints the failing example and its ``@reproduce_failure`` blob.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.builders.build_queue import QueueDepth
from chalicelib.builders.dead_letters import DeadLetter, _letter, _sendable
from chalicelib.builders.heartbeat import TAG_KEY, make_beat
from chalicelib.builders.instance import Instance
from chalicelib.builders.pool import running_verdict
from chalicelib.builders.reconcile import dead_letter_alert
from chalicelib.contracts import (
    DEAD_LETTER_REASON_ATTRIBUTE,
    Alert,
    BuildRequest,
    parse_close_message,
)
from chalicelib.notify.alert_message import FIELD_CHARS, HEADER_CHARS, SECTION_CHARS, alarm_message, alert_message
from chalicelib.notify.cloudwatch_alarm import parse_alarm
from tests.fuzz.harness import FUZZ_EXAMPLES, assert_enough, tally

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SAMPLE = json.loads(BuildRequest("sample", "production", "a" * 40, "eventbridge", "evt-1",
                                 "2026-11-29T11:00:00Z").to_json())
BEAT = make_beat("idle", NOW - timedelta(minutes=20), NOW - timedelta(minutes=1)).tag_value()

# SQS bodies and attribute values may hold only these characters; everything else is refused at send
SQS_TEXT = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00\x01\x02\x03\x04\x05\x06"
                         "\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
                         "\ufffe\uffff")
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(SQS_TEXT),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)
# huge strings: a short unicode piece repeated (hypothesis draws at most a few thousand characters itself)
HUGE = st.builds(lambda piece, times: piece * times, st.text(SQS_TEXT, min_size=1, max_size=8), st.integers(200, 8000))


@st.composite
def mutated_request(draw: Any) -> str:
    data = dict(SAMPLE)
    for key in draw(st.lists(st.sampled_from(sorted(SAMPLE)), max_size=3)):
        data.pop(key, None)
    for key in draw(st.lists(st.sampled_from(sorted(SAMPLE)), max_size=3)):
        data[key] = draw(JSON_VALUES | HUGE)
    return json.dumps(data, ensure_ascii=draw(st.booleans()))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BODIES = st.one_of(
    mutated_request(),
    mutated_request().map(lambda body: json.dumps({"Type": "Notification", "Message": body})),
    st.integers(1, 3000).map(nested),
    st.integers(1, 3000).map(lambda d: '{"Type": "Notification", "Message": "' + nested(d) + '"}'),
    st.text(SQS_TEXT, max_size=300),
    st.sampled_from(["build", "stop", "", "null", "[]", "{}", '"build"', "\t\n"]),
    HUGE,
)
ATTRIBUTE_VALUE = st.fixed_dictionaries({"DataType": st.sampled_from(["String", "Number", "Binary", "String.reason",
                                                                      "Number.int", "Binary.x", "", "Weird"])},
                                        optional={"StringValue": st.text(SQS_TEXT, max_size=600) | st.integers(),
                                                  "BinaryValue": st.binary(max_size=50),
                                                  "StringListValues": st.lists(st.text(max_size=3), max_size=2)})
ATTRIBUTES = st.dictionaries(st.sampled_from([DEAD_LETTER_REASON_ATTRIBUTE, "pushdeploy-notified", "x", "a.b-c_d"]) |
                             st.text(max_size=20), ATTRIBUTE_VALUE | JSON_VALUES, max_size=12)


def within_slack_limits(message: dict[str, Any]) -> None:
    for block in message["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_CHARS
        elif "text" in block:
            assert len(block["text"]["text"]) <= SECTION_CHARS
        for item in block.get("fields", []) + block.get("elements", []):
            assert len(item["text"]) <= (FIELD_CHARS if "fields" in block else SECTION_CHARS)


@settings(max_examples=1000, derandomize=True, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=BODIES, attributes=ATTRIBUTES, receive_count=st.integers(-5, 10**6) | st.just(0))
def test_any_dead_letter_becomes_one_alert_that_notify_can_read_and_slack_accepts(body, attributes, receive_count):
    alert = dead_letter_alert(DeadLetter("m-1", "r-1", body, attributes, receive_count))
    text = alert.to_json()
    assert len(text.encode()) < 16_384, "far under SNS's 256 KB: the body is quoted, never copied whole"
    parsed = parse_close_message(text)
    assert isinstance(parsed, Alert) and parsed.kind == "dead_letter"
    within_slack_limits(alert_message(parsed))
    assert len(_sendable(attributes)) <= 9, "room for the marker within SQS's 10 attributes"


@settings(max_examples=1000, derandomize=True, deadline=None, print_blob=True)
@given(message=st.dictionaries(st.sampled_from(["MessageId", "ReceiptHandle", "Body", "MessageAttributes",
                                                "Attributes"]) | st.text(max_size=5), JSON_VALUES | ATTRIBUTES,
                               max_size=6))
def test_any_receive_answer_reads_as_a_dead_letter(message):
    letter = _letter(message)
    assert isinstance(letter.body, str) and isinstance(letter.receive_count, int)
    dead_letter_alert(letter)


def mutated_beat() -> st.SearchStrategy[str]:
    pieces = BEAT.split(" ")
    return st.one_of(
        st.text(max_size=300),
        st.lists(st.sampled_from(pieces) | st.text(max_size=30), max_size=5).map(" ".join),
        st.builds(lambda state, since, beat: f"{state} since={since} beat={beat}",
                  st.sampled_from(["idle", "busy", "starting", "dead", "IDLE", ""]) | st.text(max_size=10),
                  st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")) | st.text(),
                  st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) | st.text()),
    )


@settings(max_examples=1000, derandomize=True, deadline=None, print_blob=True)
@given(value=mutated_beat() | st.none(), launched_minutes_ago=st.none() | st.floats(-60, 10_000),
       state=st.sampled_from(["pending", "running"]), waiting=st.integers(0, 3))
def test_any_heartbeat_tag_gives_a_verdict_and_a_fresh_boot_is_never_stopped(value, launched_minutes_ago, state,
                                                                           waiting):
    tags = {"pushdeploy:role": "builder"} | ({TAG_KEY: value} if value is not None else {})
    launched = None if launched_minutes_ago is None else NOW - timedelta(minutes=launched_minutes_ago)
    instance = Instance("i-0123456789abcdef0", state, tags, launched)
    verdict, why = running_verdict(instance, QueueDepth(waiting, 0, 0), NOW, 15 * 60)
    assert verdict in ("stopped-silent", "stopped-idle", "already-running") and why
    if launched_minutes_ago is not None and launched_minutes_ago < 15 or state == "pending":
        assert verdict == "already-running", "a builder in its first minutes (or still pending) is never stopped"


ALARM_SAMPLE = {"AlarmName": "pushdeploy-pipeline-close-errors", "NewStateValue": "ALARM", "AlarmDescription": "d",
                "NewStateReason": "Threshold Crossed", "StateChangeTime": "2026-11-29T10:10:12.345+0000", "Region": "r"}


@st.composite
def mutated_alarm(draw: Any) -> str:
    data: dict[str, Any] = dict(ALARM_SAMPLE)
    for key in draw(st.lists(st.sampled_from(sorted(ALARM_SAMPLE)), max_size=3)):
        data.pop(key, None)
    for key in draw(st.lists(st.sampled_from(sorted(ALARM_SAMPLE)), max_size=4)):
        data[key] = draw(JSON_VALUES | HUGE)
    return json.dumps(data)


@settings(max_examples=1000, derandomize=True, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=mutated_alarm() | BODIES)
def test_any_close_message_is_an_alarm_or_not_and_an_alarm_fits_slack(text):
    alarm = parse_alarm(text)
    if alarm is not None:
        assert alarm.name and alarm.state
        within_slack_limits(alarm_message(alarm))


# ------------------------------------------------------------------ the handler on the moto server

SQS_NAME = st.from_regex(r"\A[A-Za-z0-9_-]([A-Za-z0-9_.-]{0,30}[A-Za-z0-9_-])?\Z").filter(
    lambda n: ".." not in n and not n.lower().startswith(("aws.", "amazon.")))
SENDABLE_ATTRIBUTES = st.dictionaries(
    SQS_NAME | st.just(DEAD_LETTER_REASON_ATTRIBUTE),
    st.builds(lambda t, v: {"DataType": t, "StringValue": v}, st.sampled_from(["String", "String.reason"]),
              st.text(SQS_TEXT, min_size=1, max_size=300).filter(str.strip)) |
    st.builds(lambda v: {"DataType": "Number", "StringValue": str(v)}, st.integers(-10**6, 10**6)) |
    st.builds(lambda v: {"DataType": "Binary", "BinaryValue": v}, st.binary(min_size=1, max_size=20)),
    max_size=9)
# EC2 tag values: up to 256 unicode letters, digits, spaces and + - = . _ : / @ (EC2 refuses anything else)
TAG_TEXT = st.characters(categories=("L", "N", "Zs"), include_characters="+-=._:/@")
TAG_VALUES = (mutated_beat() | st.text(TAG_TEXT, max_size=256)).map(
    lambda v: "".join(c for c in v if c.isalnum() or c.isspace() and c not in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"
                      or c in "+-=._:/@")[:256])


@pytest.fixture
def handler(aws, monkeypatch):
    from chalicelib.factory import Factory
    from tests.lambda_app import make_pipeline_rig

    rig = make_pipeline_rig(aws)
    env = rig.env()
    return rig, Factory(environ=lambda: env).reconcile()


def test_the_handler_survives_any_dead_letter_and_tag_and_announces_each_letter_once(handler):
    rig, reconcile = handler
    sqs, ec2 = rig.client("sqs"), rig.client("ec2")
    watch = sqs.create_queue(QueueName="fuzz-watch")["QueueUrl"]
    watch_arn = sqs.get_queue_attributes(QueueUrl=watch, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rig.client("sns").subscribe(TopicArn=rig.close_topic_arn, Protocol="sqs", Endpoint=watch_arn,
                                Attributes={"RawMessageDelivery": "true"})
    sent: list[str] = []

    @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large])
    @given(body=BODIES.filter(lambda b: 0 < len(b.encode()) < 200_000), attributes=SENDABLE_ATTRIBUTES,
           tag=TAG_VALUES)
    def one_run(body: str, attributes: dict[str, Any], tag: str) -> None:
        tally("reconcile")
        ec2.create_tags(Resources=[rig.instance_id], Tags=[{"Key": TAG_KEY, "Value": tag}])
        sent.append(sqs.send_message(QueueUrl=rig.dead_letter_queue_url, MessageBody=body,
                                     MessageAttributes=attributes)["MessageId"])
        result = reconcile.handle()
        assert result["builder"] == "already-running", "a just-launched builder is never stopped, whatever its tag"
        assert result["dead_letters"] == 1
        assert rig.state() == "running"

    one_run()
    announced = []
    while batch := sqs.receive_message(QueueUrl=watch, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            alert = parse_close_message(message["Body"])
            assert isinstance(alert, Alert) and alert.kind == "dead_letter"
            announced.append(alert.message_id)
            sqs.delete_message(QueueUrl=watch, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(announced) == sorted(sent), "each dead letter announced exactly once"
    assert reconcile.handle()["dead_letters"] == 0
    assert_enough("reconcile")
