"""The notify function never crashes, posts one message Slack accepts for each build result the contract
accepts, and posts nothing for anything else: mutations of real close-topic messages. The Slack stand-in
refuses what real Slack refuses (texts over Block Kit's limits).

Alerts are not among the samples yet: their notification belongs to the reconcile work, whose fuzz module
adds them (see tests/fuzz/harness.py)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib import blockkit
from chalicelib.contracts import BuildResult, ContractError, EndOfRun, parse_close_message
from tests.fuzz.harness import assert_enough, fuzz, tally
from tests.fuzz.mutations import message_texts, raw_texts, sweep, to_text
from tests.lambda_app import chalice_client, import_app, sns_event
from tests.test_notify import HOOK_PATH
from tests.test_notify import result as build_result
from tests.test_notify_limits import like_slack

SAMPLES = [json.loads(message.to_json()) for message in (
    build_result(), build_result("failed", error="docker build: step 3/7 RUN make: exit 2"),
    EndOfRun("i-0123456789abcdef0", "2026-11-26T10:20:00.000000Z", "agent service ended: crash", agent_exited=True))]


def posts_expected(message: str) -> int:
    try:
        return 1 if isinstance(parse_close_message(message), BuildResult) else 0
    except ContractError:
        return 0


def test_notify_never_crashes_and_posts_exactly_the_valid_build_results(pipeline_rig, httpserver, monkeypatch,
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
