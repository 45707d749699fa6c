"""Whatever a build result holds, notify posts a message Slack accepts, or says why it cannot: long texts
are cut to Block Kit's limits with a visible marker, odd revisions are shown as they are, and a result
whose times Slack's duration cannot be computed from is refused as malformed before anything is posted.

The Slack stand-in refuses what real Slack refuses (400 invalid_blocks for a text over its limit)."""

from __future__ import annotations

import json

import pytest
from werkzeug import Request, Response

from chalicelib.contracts import CommitInfo, ServiceDeployment
from chalicelib.notify import blockkit
from tests.lambda_app import chalice_client, import_app, make_pipeline_rig, sns_event
from tests.test_notify import HOOK_PATH, SHA, TASKDEF, result


def like_slack(request: Request) -> Response:
    payload = json.loads(request.get_data())
    if blockkit.problems(payload):
        return Response("invalid_blocks", status=400)
    return Response("ok")


@pytest.fixture
def client(aws, httpserver, monkeypatch, tmp_path):
    rig = make_pipeline_rig(aws)
    rig.put_webhook_url(httpserver.url_for(HOOK_PATH))
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_handler(like_slack)
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        yield client


def notify(client, message: str) -> str:
    return client.lambda_.invoke("notify", sns_event(client, message)).payload


def posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def huge_result():
    base = result("failed", error="E" * 900 + "``` fence in the output " + "<@U123> & " * 10)
    commits = (CommitInfo(SHA, "subject <b> & " * 10_000, "A" * 5000),)
    services = tuple(ServiceDeployment("c" * 300, f"web-{i}-" + "s" * 200, TASKDEF.format(i), TASKDEF.format(i + 1))
                     for i in range(40))
    return base.__class__(**{**base.__dict__, "commits": commits, "services": services,
                             "pipeline": "sample/" + "p" * 250, "branch": "p" * 250})


def test_a_result_with_texts_over_every_limit_is_posted_cut_with_markers(client, httpserver):
    assert notify(client, huge_result().to_json()) == "posted"
    [message] = posted(httpserver)
    assert blockkit.problems(message) == []
    header, fields = message["blocks"][0], message["blocks"][1]["fields"]
    assert header["text"]["text"].endswith(blockkit.TRUNCATED)
    commit = next(f["text"] for f in fields if f["text"].startswith("*Commit*"))
    assert commit.endswith(blockkit.TRUNCATED) and commit.count("`") % 2 == 0
    assert "&am" + blockkit.TRUNCATED not in commit
    services = next(f["text"] for f in fields if f["text"].startswith("*Task definition*"))
    assert services.endswith(blockkit.TRUNCATED)


def test_the_reason_keeps_its_code_fence_closed_and_cannot_end_it_early(client, httpserver):
    long_error = result("failed", error="line\n" * 190 + "``` not the end")
    assert notify(client, long_error.to_json()) == "posted"
    reason = posted(httpserver)[0]["blocks"][2]["text"]["text"]
    assert reason.startswith("*Reason*\n```") and reason.endswith("```")
    assert reason.count("```") == 2


@pytest.mark.parametrize("revision", ["²", "9" * 5000, "٣"])
def test_a_task_definition_revision_that_is_not_a_few_ascii_digits_is_shown_as_it_is(client, httpserver, revision):
    odd = result()
    odd = odd.__class__(**{**odd.__dict__, "services": (
        ServiceDeployment("production-cluster", "web", TASKDEF.format(12), TASKDEF.format(revision)),)})
    assert notify(client, odd.to_json()) == "posted"
    [message] = posted(httpserver)
    services = next(f["text"] for f in message["blocks"][1]["fields"] if f["text"].startswith("*Task definition*"))
    assert services.startswith(f"*Task definition*\nweb: {TASKDEF.format(revision)[:40]}")
    assert "(was production-task:12)" in services or services.endswith(blockkit.TRUNCATED)


def test_a_time_without_utc_offset_next_to_one_with_z_is_malformed_and_nothing_is_posted(client, httpserver, caplog):
    naive = result().to_json().replace('"started_at":"2026-11-26T10:00:00Z"', '"started_at":"2026-11-26T10:00:00"')
    assert '"2026-11-26T10:00:00"' in naive
    assert notify(client, naive) == "malformed"
    assert posted(httpserver) == []
    assert "notify: malformed close message, no notification: started_at: expected an ISO-8601 timestamp with Z " \
           "or a UTC offset" in caplog.text
