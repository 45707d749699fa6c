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
