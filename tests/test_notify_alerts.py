"""What is not a build result but must reach the team: the reconcile's alerts, and the last end of run of an
agent that stopped. Slack is a real local HTTP server; every message stays within Block Kit's limits."""

from __future__ import annotations

import json

import pytest

from chalicelib.contracts import Alert, EndOfRun, utc_now
from chalicelib.notify.alert_message import FIELD_CHARS, HEADER_CHARS, MARKER, SECTION_CHARS
from tests.lambda_app import PipelineRig, chalice_client, import_app, make_pipeline_rig, sns_event

HOOK_PATH = "/services/T0001/B0002/s3cr3t-t0k3n"
SHA = "0123456789abcdef0123456789abcdef01234567"
INSTANCE = "i-0123456789abcdef0"


@pytest.fixture
def rig(aws, httpserver) -> PipelineRig:
    rig = make_pipeline_rig(aws)
    rig.put_webhook_url(httpserver.url_for(HOOK_PATH))
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    return rig


@pytest.fixture
def notify(rig, monkeypatch, tmp_path):
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        yield lambda message: client.lambda_.invoke("notify", sns_event(client, message)).payload


def posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def texts(message: dict) -> list[tuple[str, str, int]]:
    """(block type, text, limit) for every text Slack limits."""
    found = []
    for block in message["blocks"]:
        if block["type"] == "header":
            found.append(("header", block["text"]["text"], HEADER_CHARS))
        if "text" in block and block["type"] == "section":
            found.append(("section", block["text"]["text"], SECTION_CHARS))
        found += [("field", f["text"], FIELD_CHARS) for f in block.get("fields", [])]
        found += [("context", e["text"], SECTION_CHARS) for e in block.get("elements", [])]
    return found


def test_a_dead_letter_alert_names_pipeline_commit_and_reason(notify, httpserver, caplog):
    alert = Alert(kind="dead_letter", sent_at=utc_now(), pipeline="sample/staging", commit=SHA, message_id="m-1",
                  summary="Build request for sample/staging at 0123456 was dead-lettered: no pipeline <serves> it",
                  detail="message m-1, event evt-9")
    assert notify(alert.to_json()) == "posted"
    [message] = posted(httpserver)
    assert message["blocks"][0]["text"]["text"] == ":skull: Build request dead-lettered"
    assert message["blocks"][1]["text"]["text"] == ("Build request for sample/staging at 0123456 was dead-lettered: "
                                                    "no pipeline &lt;serves&gt; it")
    assert [f["text"] for f in message["blocks"][2]["fields"]] == ["*Pipeline*\nsample/staging", "*Commit*\n`0123456`"]
    assert message["text"].startswith(":skull: Build request dead-lettered: Build request for sample/staging")
    assert "notify: posted dead_letter alert (m-1) to Slack" in caplog.text


@pytest.mark.parametrize("kind, header", [("stale_request", ":hourglass: Build request waiting too long"),
                                          ("builder_stopped", ":octagonal_sign: Builder stopped by the reconcile")])
def test_every_alert_kind_is_posted(notify, httpserver, kind, header):
    assert notify(Alert(kind=kind, summary="something is stuck", sent_at=utc_now()).to_json()) == "posted"
    [message] = posted(httpserver)
    assert message["blocks"][0]["text"]["text"] == header
    assert message["blocks"][1]["text"]["text"] == "something is stuck"


def test_an_agent_that_stopped_is_posted_with_its_reason_and_instance(notify, httpserver, caplog):
    end = EndOfRun(INSTANCE, utc_now(), reason="settings: /etc/pushdeploy/agent.toml: missing agent.queue_url",
                   agent_exited=True)
    assert notify(end.to_json()) == "posted"
    [message] = posted(httpserver)
    assert message["text"] == (":rotating_light: Builder agent stopped: settings: /etc/pushdeploy/agent.toml: missing "
                               f"agent.queue_url ({INSTANCE})")
    assert message["blocks"][0]["text"]["text"] == ":rotating_light: Builder agent stopped"
    assert INSTANCE in message["blocks"][1]["text"]["text"]
    assert message["blocks"][2]["text"]["text"] == ("*Reason*\n```settings: /etc/pushdeploy/agent.toml: missing "
                                                    "agent.queue_url```")
    assert f"notify: posted agent stopped on {INSTANCE} to Slack" in caplog.text


def test_an_ordinary_end_of_run_is_still_not_posted(notify, httpserver):
    assert notify(EndOfRun(INSTANCE, utc_now()).to_json()) == "end-of-run"
    assert posted(httpserver) == []


def test_huge_texts_are_cut_to_slacks_limits_with_a_visible_marker(notify, httpserver):
    long = "x<&>" * 20_000
    assert notify(Alert(kind="dead_letter", summary=long, detail=long, pipeline=long, commit=SHA,
                        message_id=long, sent_at=utc_now()).to_json()) == "posted"
    assert notify(EndOfRun(long, utc_now(), reason=long, agent_exited=True).to_json()) == "posted"
    for message in posted(httpserver):
        for kind, text, limit in texts(message):
            assert len(text) <= limit, f"{kind} of {len(text)} characters"
        assert any(text.endswith(MARKER) or text.endswith(MARKER + "```") for _, text, _ in texts(message))
        assert len(message["text"]) <= SECTION_CHARS
    detail = posted(httpserver)[0]["blocks"][3]["text"]["text"]
    assert detail.startswith("*Detail*\n```") and detail.endswith(MARKER + "```"), "the code fence still closes"


def test_the_webhook_url_is_never_logged(notify, httpserver, caplog, capfd):
    notify(Alert(kind="stale_request", summary="waiting", sent_at=utc_now()).to_json())
    notify(EndOfRun(INSTANCE, utc_now(), reason="crash", agent_exited=True).to_json())
    output = capfd.readouterr()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "posted" in ours
    assert "s3cr3t" not in ours + output.out + output.err


# A CloudWatch alarm's SNS notification, in the format AWS documents (fields trimmed to what is read and a few more).
ALARM = {
    "AlarmName": "pushdeploy-pipeline-reconcile-errors",
    "AlarmDescription": "pushdeploy: the reconcile function failed (settings, permissions or an AWS error)",
    "AWSAccountId": "111122223333", "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [2.0 (29/11/26 10:05:00)] was greater than the threshold (0.0).",
    "StateChangeTime": "2026-11-29T10:10:12.345+0000", "Region": "Asia Pacific (Tokyo)",
    "AlarmArn": "arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:pushdeploy-pipeline-reconcile-errors",
    "OldStateValue": "OK", "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM",
                                       "Dimensions": [{"value": "pushdeploy-prod-reconcile", "name": "FunctionName"}],
                                       "Period": 300, "EvaluationPeriods": 1, "Threshold": 0.0},
}


def test_a_cloudwatch_alarm_on_the_close_topic_is_posted(notify, httpserver, caplog):
    assert notify(json.dumps(ALARM)) == "posted"
    assert notify(json.dumps(ALARM | {"NewStateValue": "OK", "NewStateReason": "back to normal"})) == "posted"
    alarm, ok = posted(httpserver)
    assert alarm["blocks"][0]["text"]["text"] == ":rotating_light: Alarm ALARM: pushdeploy-pipeline-reconcile-errors"
    assert alarm["blocks"][1]["text"]["text"] == ALARM["AlarmDescription"]
    assert alarm["blocks"][2]["text"]["text"] == f"*Why*\n```{ALARM['NewStateReason']}```"
    assert ok["blocks"][0]["text"]["text"] == ":white_check_mark: Alarm OK: pushdeploy-pipeline-reconcile-errors"
    assert "notify: posted alarm 'pushdeploy-pipeline-reconcile-errors' (ALARM) to Slack" in caplog.text


@pytest.mark.parametrize("message", [json.dumps({"AlarmName": "x"}), json.dumps({"AlarmName": 1, "NewStateValue": 2}),
                                     json.dumps({"AlarmName": "", "NewStateValue": "ALARM"}), json.dumps([ALARM])])
def test_what_only_looks_like_an_alarm_is_malformed(notify, httpserver, message):
    assert notify(message) == "malformed"
    assert posted(httpserver) == []


def test_close_leaves_the_builder_alone_for_an_alarm(rig, monkeypatch, tmp_path, caplog):
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        assert client.lambda_.invoke("close", sns_event(client, json.dumps(ALARM))).payload == "not-end-of-run"
    assert rig.state() == "running"
    assert "close: CloudWatch alarm is not an end of run; builder left as is" in caplog.text
