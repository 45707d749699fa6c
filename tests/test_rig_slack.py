"""The Slack stand-in records what the notify function posts, and answers like Slack."""

import json
import urllib.error
import urllib.request

import pytest

from localrig.slack import SlackReceiver, payload_text


@pytest.fixture
def slack(tmp_path):
    receiver = SlackReceiver(tmp_path / "slack.jsonl")
    yield receiver
    receiver.stop()


def _post(url, body: bytes):
    return urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5)


def test_a_payload_is_recorded_in_memory_and_on_disk(slack, tmp_path):
    payload = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*succeeded* abc1234"}}]}
    with _post(slack.url, json.dumps(payload).encode()) as resp:
        assert resp.read() == b"ok"
    assert slack.payloads() == [payload]
    assert json.loads((tmp_path / "slack.jsonl").read_text())["payload"] == payload
    assert payload_text(payload) == "*succeeded* abc1234"


def test_a_body_that_is_not_json_gets_slacks_400(slack):
    with pytest.raises(urllib.error.HTTPError) as err:
        _post(slack.url, b"text=hi")
    assert err.value.code == 400
    assert slack.payloads() == []


def test_a_message_is_shown_as_the_channel_shows_it_every_block_in_order():
    from chalicelib.notify import blockkit
    from localrig.slack import render_message

    payload = blockkit.message("fallback line only in the notification", [
        blockkit.header(":x: Build failed: sample/production"),
        blockkit.fields(["*Commit*\n`abc1234` fix it", "*Outcome*\nfailed", "*Duration*\n2s"]),
        blockkit.section("*Reason*\nbuild failed on purpose"),
        blockkit.context(["<https://example.com/log|Build log>", "<https://example.com/ecs|ECS web>"]),
    ])

    assert render_message(payload).splitlines() == [
        ":x: Build failed: sample/production",
        "*Commit* `abc1234` fix it    *Outcome* failed",  # two columns, as in the channel
        "*Duration* 2s",
        "*Reason*",
        "build failed on purpose",
        "Build log · ECS web",
    ]
    assert render_message({"text": "plain"}) == "plain"


def test_the_listener_gets_each_payload_with_its_arrival_time(tmp_path):
    import time

    got = []
    receiver = SlackReceiver(on_payload=lambda payload, at: got.append((payload, at)))
    try:
        before = time.time()
        with _post(receiver.url, b'{"text": "hi"}'):
            pass
        assert len(got) == 1 and got[0][0] == {"text": "hi"}
        assert before <= got[0][1] <= time.time()
        assert receiver.records()[0][0] == got[0][1]
    finally:
        receiver.stop()
