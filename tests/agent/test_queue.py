"""The build queue: everything is received, grouped per pipeline, and a message is deletable only
once every pipeline it asked for has its result; the heartbeat keeps held messages invisible."""

from __future__ import annotations

import json

import pytest

from agent.queue.build_queue import BuildQueue, Heartbeat, plan_round
from chalicelib.contracts import BuildRequest, utc_now
from localrig.services import wait_until
from tests.conftest import load_event

PIPELINES = ["sample/production", "sample/staging"]


def message(mid: str, body: str) -> dict:
    return {"MessageId": mid, "ReceiptHandle": f"rh-{mid}", "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"}}


def request(branch: str = "production", repository: str = "sample") -> str:
    return BuildRequest(repository, branch, None, "eventbridge", "e1", utc_now()).to_json()


def envelope(text: str) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "sns-1", "Message": text})


def test_requests_are_grouped_by_pipeline_from_envelopes_and_raw_bodies():
    logged: list[str] = []
    work = plan_round([message("a", envelope(request())), message("b", request()),
                       message("c", envelope(request("staging")))], PIPELINES, logged.append)

    assert work.order == ["sample/production", "sample/staging"]
    assert [r.message_id for r in work.requests["sample/production"]] == ["a", "b"]
    assert [r.message_id for r in work.done("sample/production")] == ["a", "b"]
    assert [r.message_id for r in work.held()] == ["c"]
    assert logged == []


def test_a_legacy_build_is_answered_only_when_every_pipeline_has_its_result():
    work = plan_round([message("legacy", "build"), message("p", request())], PIPELINES, print)

    assert work.order == PIPELINES
    assert [r.message_id for r in work.done("sample/production")] == ["p"]
    assert [r.message_id for r in work.held()] == ["legacy"]
    assert [r.message_id for r in work.done("sample/staging")] == ["legacy"]
    assert not work.held()


def test_the_sample_sqs_event_with_an_sns_envelope_is_understood_as_legacy_build():
    record = load_event("04b_sqs_event_with_sns_envelope.powertools.json")["Records"][0]
    body = json.loads(record["body"])
    body["Message"] = "build"
    work = plan_round([message(record["messageId"], json.dumps(body))], PIPELINES, print)
    assert work.order == PIPELINES


def test_malformed_and_unknown_messages_are_logged_with_their_id_and_set_aside():
    logged: list[str] = []
    unknown = request(repository="nope")
    work = plan_round([message("m1", "{"), message("m2", unknown), message("ok", request()),
                       message("m3", json.dumps({"type": "pushdeploy.build_request", "version": 9}))],
                      PIPELINES, logged.append)

    assert work.order == ["sample/production"]
    assert [r.message_id for r in work.rejected] == ["m1", "m2", "m3"]
    assert len(logged) == 3
    assert logged[0].startswith("queue: message m1 rejected: malformed request")
    assert work.rejected[1].body == unknown  # kept whole for the dead-letter queue
    assert "unknown pipeline 'nope/production'" in logged[1]
    assert "version 9 is newer" in logged[2]


def test_duplicate_deliveries_of_one_message_count_once():
    work = plan_round([message("a", request()), message("a", request())], PIPELINES, print)
    assert len(work.requests["sample/production"]) == 1


@pytest.fixture
def sqs_queue(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="build", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    return sqs, url


def test_receive_all_takes_every_message_in_batches_of_ten(sqs_queue):
    sqs, url = sqs_queue
    for n in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=request() if n % 2 else envelope(request("staging")))

    received = BuildQueue(sqs, url).receive_all()

    assert len({m["MessageId"] for m in received}) == 25
    work = plan_round(received, PIPELINES, print)
    assert {pid: len(reqs) for pid, reqs in work.requests.items()} == {"sample/staging": 13, "sample/production": 12}


def test_the_heartbeat_keeps_held_messages_invisible_past_their_timeout_and_stops_with_the_work(sqs_queue):
    sqs, url = sqs_queue
    sqs.send_message(QueueUrl=url, MessageBody=request())
    queue = BuildQueue(sqs, url, visibility_timeout=2)
    work = plan_round(queue.receive_all(), PIPELINES, print)
    watcher = BuildQueue(sqs, url, visibility_timeout=2)

    with Heartbeat(queue, work.held, print, interval=0.5) as beat:
        wait_until(lambda: beat.beats >= 6, 30, "six heartbeats (3 s, beyond the 2 s visibility timeout)")
        assert watcher.receive_all() == []

    wait_until(lambda: bool(watcher.receive_all()), 30, "the message to come back once the heartbeat stopped")


def test_delete_and_release_act_on_the_held_messages(sqs_queue):
    sqs, url = sqs_queue
    for _ in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=request())
    queue = BuildQueue(sqs, url, visibility_timeout=30)
    work = plan_round(queue.receive_all(), PIPELINES, print)
    held = work.held()

    queue.set_visibility(held[:5], 0)
    queue.delete(held[5:])

    assert len(queue.receive_all()) == 5
