"""A build result on the close topic becomes a Slack message; Slack is a real local HTTP server."""

from __future__ import annotations

import json
import threading
import traceback

import pytest
from werkzeug import Response

from chalicelib.contracts import BuildResult, CommitInfo, EndOfRun, ImageInfo, LogLocation, ServiceDeployment, utc_now
from chalicelib.errors import AwsCallError, RetryableError
from tests.lambda_app import PipelineRig, chalice_client, import_app, make_pipeline_rig, sns_event

HOOK_PATH = "/services/T0001/B0002/s3cr3t-t0k3n"
SHA = "0123456789abcdef0123456789abcdef01234567"
TASKDEF = "arn:aws:ecs:ap-northeast-1:111122223333:task-definition/production-task:{}"


def result(outcome: str = "succeeded", error: str | None = None) -> BuildResult:
    return BuildResult(
        pipeline="sample/production", repository="sample", branch="production", outcome=outcome, commit=SHA,
        started_at="2026-11-26T10:00:00Z", finished_at="2026-11-26T10:02:05Z",
        commits=(CommitInfo(SHA, "Fix <login> & logout", "Alice"),),
        image=ImageInfo("111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:20261126T100000Z",
                        "20261126T100000Z", "sha256:" + "f" * 64),
        services=(ServiceDeployment("production-cluster", "web", TASKDEF.format(12), TASKDEF.format(13)),),
        error=error, log=LogLocation("/pushdeploy/builds", "sample/production/0123456", "ap-northeast-1"),
        builder_instance_id="i-0123456789abcdef0",
    )


@pytest.fixture
def rig(aws, httpserver) -> PipelineRig:
    rig = make_pipeline_rig(aws)
    rig.put_webhook_url(httpserver.url_for(HOOK_PATH))
    return rig


@pytest.fixture
def client(rig, monkeypatch, tmp_path):
    """One app import = one Lambda container: the webhook URL cache lives as long as this client."""
    module = import_app(monkeypatch, rig.env())
    with chalice_client(module, tmp_path) as client:
        yield client


@pytest.fixture
def impatient_client(rig, monkeypatch, tmp_path):
    """A notify function that waits only half a second for Slack."""
    module = import_app(monkeypatch, rig.env(NOTIFY_TIMEOUT_SECONDS="0.5"))
    with chalice_client(module, tmp_path) as client:
        yield client


def invoke(client, message: str):
    return client.lambda_.invoke("notify", sns_event(client, message)).payload


def posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def test_success_posts_outcome_commit_image_revision_duration_and_links(client, httpserver, caplog):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    assert invoke(client, result().to_json()) == "posted"
    [message] = posted(httpserver)
    text = json.dumps(message)
    assert message["blocks"][0]["text"]["text"] == ":white_check_mark: Deployed: sample/production"
    assert message["text"] == ":white_check_mark: Deployed: sample/production 0123456"
    for expected in ("`0123456` Fix &lt;login&gt; &amp; logout (Alice)", "`20261126T100000Z`",
                     "web: production-task:13 (was production-task:12)", "2m 05s"):
        assert expected in text
    links = message["blocks"][-1]["elements"][0]["text"]
    assert f"codecommit/repositories/sample/commit/{SHA}?region=us-east-1|Commit>" in links
    assert "ap-northeast-1.console.aws.amazon.com/ecs/v2/clusters/production-cluster/services/web/deployments" in links
    assert "log-group/$252Fpushdeploy$252Fbuilds/log-events/sample$252Fproduction$252F0123456|Build log>" in links
    assert "posted succeeded for sample/production at 0123456789ab to Slack" in caplog.text


def test_failure_says_failed_and_why(client, httpserver):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    invoke(client, result("failed", error="docker build: step 3/7 RUN make: exit 2").to_json())
    [message] = posted(httpserver)
    assert message["blocks"][0]["text"]["text"] == ":x: Build failed: sample/production"
    assert message["blocks"][2]["text"]["text"] == "*Reason*\n```docker build: step 3/7 RUN make: exit 2```"


def test_rolled_back_is_not_reported_as_deployed(client, httpserver):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    invoke(client, result("rolled_back", error="deployment failed: circuit breaker").to_json())
    [message] = posted(httpserver)
    assert message["blocks"][0]["text"]["text"].startswith(":leftwards_arrow_with_hook: Rolled back")


def test_end_of_run_sends_nothing(client, httpserver, caplog):
    assert invoke(client, EndOfRun("i-0123456789abcdef0", utc_now()).to_json()) == "end-of-run"
    assert invoke(client, "stop") == "end-of-run"
    assert posted(httpserver) == []


@pytest.mark.parametrize("message, field", [
    ("not json", "(message)"),
    (result().to_json().replace('"succeeded"', '"deployed"'), "outcome"),
    (result().to_json().replace(SHA, "abc"), "commit"),
    (result().to_json().replace('"version":1', '"version":3'), "version"),
])
def test_malformed_result_is_logged_and_nothing_posted(client, httpserver, caplog, message, field):
    assert invoke(client, message) == "malformed"
    assert posted(httpserver) == []
    assert f"notify: malformed close message, no notification: {field}" in caplog.text


@pytest.mark.parametrize("status", [500, 503, 429])
def test_slack_server_error_is_retryable(client, httpserver, status):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("busy", status=status)
    with pytest.raises(RetryableError, match=f"Slack webhook answered {status}"):
        invoke(client, result().to_json())


def test_slack_rejection_is_logged_and_not_retried(client, httpserver, caplog):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("invalid_token", status=403)
    assert invoke(client, result().to_json()) == "refused"
    assert "Slack refused the message with 403 'invalid_token'" in caplog.text


def test_slack_timeout_is_retryable(impatient_client, httpserver):
    release = threading.Event()

    def hang(request):
        release.wait(30)  # a Slack that never answers in time; released when the test is done
        return Response("late")

    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_handler(hang)
    try:
        with pytest.raises(RetryableError, match=r"did not answer within 0.5s"):
            invoke(impatient_client, result().to_json())
    finally:
        release.set()


def test_missing_parameter_is_a_configuration_error(rig, client):
    rig.client("ssm").delete_parameter(Name=rig.parameter)
    with pytest.raises(AwsCallError, match=f"reading SSM parameter {rig.parameter} failed: ParameterNotFound"):
        invoke(client, result().to_json())


def test_webhook_url_is_read_once_per_container(rig, client, httpserver):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    invoke(client, result().to_json())
    rig.put_webhook_url("http://127.0.0.1:9/elsewhere")  # a changed parameter is not re-read while warm
    assert invoke(client, result().to_json()) == "posted"
    assert len(posted(httpserver)) == 2


def test_rejected_url_is_forgotten_so_a_rotated_parameter_is_used(rig, client, httpserver):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("no_service", status=404)
    httpserver.expect_request("/services/rotated", method="POST").respond_with_data("ok")
    assert invoke(client, result().to_json()) == "refused"
    rig.put_webhook_url(httpserver.url_for("/services/rotated"))
    assert invoke(client, result().to_json()) == "posted"
    assert [request.path for request, _ in httpserver.log] == [HOOK_PATH, "/services/rotated"]


def test_plain_string_parameter_works_but_warns(rig, client, httpserver, caplog):
    rig.put_webhook_url(httpserver.url_for(HOOK_PATH), kind="String")
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    assert invoke(client, result().to_json()) == "posted"
    assert f"SSM parameter {rig.parameter} is a String, not a SecureString" in caplog.text


def test_webhook_url_never_appears_in_logs_or_errors(rig, client, httpserver, caplog, capfd):
    """Every path that talks about the webhook: success, 4xx, 5xx, unreachable, invalid value."""
    secret = "s3cr3t-t0k3n"
    errors: list[BaseException] = []
    httpserver.expect_oneshot_request(HOOK_PATH).respond_with_data("ok")
    httpserver.expect_oneshot_request(HOOK_PATH).respond_with_data("no_team", status=404)
    httpserver.expect_oneshot_request(HOOK_PATH).respond_with_data("oops", status=502)
    invoke(client, result().to_json())
    invoke(client, result().to_json())
    with pytest.raises(RetryableError) as caught:
        invoke(client, result().to_json())
    errors.append(caught.value)
    httpserver.stop()  # Slack unreachable
    with pytest.raises(RetryableError) as caught:
        invoke(client, result().to_json())
    errors.append(caught.value)
    rig.put_webhook_url(f"not a url {secret}")
    httpserver.start()
    httpserver.expect_request(HOOK_PATH).respond_with_data("no", status=410)
    invoke(client, result().to_json())  # 410 -> forget the cached URL -> next read finds a bad value
    with pytest.raises(Exception) as caught:
        invoke(client, result().to_json())
    errors.append(caught.value)
    output = capfd.readouterr()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")  # werkzeug: the stand-in's log
    shown = ours + output.out + output.err + "".join(
        "".join(traceback.format_exception(e)) for e in errors)
    assert "Slack refused the message with 404" in caplog.text  # the paths above did log
    assert secret not in shown


def test_skipped_build_without_image_or_services_still_reads_well(client, httpserver):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    skipped = BuildResult("sample/production", "sample", "production", "skipped", None,
                          "2026-11-26T10:00:00Z", "2026-11-26T10:00:07Z")
    assert invoke(client, skipped.to_json()) == "posted"
    [message] = posted(httpserver)
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields == ["*Pipeline*\nsample/production", "*Outcome*\nskipped", "*Commit*\n-", "*Image tag*\n-",
                      "*Task definition*\n-", "*Duration*\n7s"]
    assert [b["type"] for b in message["blocks"]] == ["header", "section"]


def test_unreachable_slack_is_retryable(rig, client):
    from localrig.services import free_port

    rig.put_webhook_url(f"http://127.0.0.1:{free_port()}/services/T/B/x")  # nothing listens there
    with pytest.raises(RetryableError, match=r"Slack webhook unreachable \(ConnectionError\)"):
        invoke(client, result().to_json())
