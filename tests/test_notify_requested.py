"""The Slack message says what was asked, how it arrived and who asked: "rollback by <arn> (manual)"; a
rollback someone asked for is not dressed as a deploy, nor as a failed deploy's automatic rollback."""

from __future__ import annotations

import dataclasses
import json

from tests.test_notify import HOOK_PATH, client, invoke, posted, result, rig  # noqa: F401 - fixtures

ALICE = "arn:aws:iam::123456789012:user/alice"


def test_a_manual_rollback_says_rollback_by_whom_and_how(client, httpserver):  # noqa: F811
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    rollback = dataclasses.replace(result(), action="rollback", trigger="manual", requested_by=ALICE, commit=None,
                                   commits=(), image=None)

    invoke(client, rollback.to_json())

    [message] = posted(httpserver)
    assert message["blocks"][0]["text"]["text"] == ":rewind: Rollback done: sample/production"
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert f"*Requested*\nrollback by {ALICE} (manual)" in fields


def test_a_pushed_build_names_the_pusher_and_the_host(client, httpserver):  # noqa: F811
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    pushed = dataclasses.replace(result(), trigger="github", requested_by="octocat <x>")

    invoke(client, pushed.to_json())

    [message] = posted(httpserver)
    assert message["blocks"][0]["text"]["text"] == ":white_check_mark: Deployed: sample/production"
    assert "*Requested*\\nbuild by octocat &lt;x&gt; (github)" in json.dumps(message)


def test_a_result_from_an_older_agent_has_no_requested_field(client, httpserver):  # noqa: F811
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")

    invoke(client, result().to_json())

    [message] = posted(httpserver)
    assert "*Requested*" not in json.dumps(message)
