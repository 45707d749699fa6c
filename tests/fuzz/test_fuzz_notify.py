"""The notify function never crashes, posts one message Slack accepts for each build result, alert, exited
agent's end of run and CloudWatch alarm the contracts accept, and posts nothing for anything else (an idle
agent's end of run, malformed text): mutations of real close-topic messages. The Slack stand-in refuses what
real Slack refuses (texts over Block Kit's limits)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.contracts import Alert, ContractError, EndOfRun, parse_close_message
from chalicelib.notify import blockkit
from chalicelib.notify.cloudwatch_alarm import parse_alarm
from tests.fuzz.harness import assert_enough, fuzz, tally
from tests.fuzz.mutations import message_texts, raw_texts, sweep, to_text
from tests.lambda_app import chalice_client, import_app, sns_event
from tests.test_notify import HOOK_PATH
from tests.test_notify import result as build_result
from tests.test_notify_limits import like_slack

SAMPLES = [json.loads(message.to_json()) for message in (
    build_result(), build_result("failed", error="docker build: step 3/7 RUN make: exit 2"),
    EndOfRun("i-0123456789abcdef0", "2026-11-26T10:20:00.000000Z", "agent service ended: crash", agent_exited=True),
    Alert("dead_letter", "Build request for sample/production was dead-lettered: unknown pipeline",
          "2026-11-26T10:25:00.000000Z", detail="not in the settings file", pipeline="sample/production",
          commit="0" * 40, message_id="m-1"))]


def posts_expected(message: str) -> int:
    try:
        parsed = parse_close_message(message)
    except ContractError:
        return 1 if parse_alarm(message) else 0
    return 0 if isinstance(parsed, EndOfRun) and not parsed.agent_exited else 1


def test_notify_never_crashes_and_posts_exactly_the_valid_messages(pipeline_rig, httpserver, monkeypatch,
                                                                          tmp_path):
    pipeline_rig.put_webhook_url(httpserver.url_for(HOOK_PATH))
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_handler(like_slack)
    module = import_app(monkeypatch, pipeline_rig.env())
    with chalice_client(module, tmp_path) as client:

        @fuzz("notify", [to_text(edited) for sample in SAMPLES for edited in sweep(sample)])
        @given(st.one_of(st.sampled_from(SAMPLES).flatmap(message_texts), raw_texts("stop")))
        def run(message: str) -> None:
            tally("notify")
            before = len(httpserver.log)
            result = client.lambda_.invoke("notify", sns_event(client, message)).payload
            posted = [json.loads(request.get_data()) for request, _ in httpserver.log[before:]]
            assert len(posted) == posts_expected(message)
            assert result == ("posted" if posted else result)
            for payload in posted:
                assert blockkit.problems(payload) == []

        run()
    assert_enough("notify")
