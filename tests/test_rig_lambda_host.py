"""The rig's Lambda host runs a Chalice app's handlers as Lambda would: SNS over real http
subscriptions from moto, asynchronous invokes, and retries of failed invocations."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from localrig import services
from localrig.lambdas.lambda_host import rate_seconds, sns_lambda_event
from tests.conftest import load_event
from tests.rig_host import running_host

APP_DIR = Path(__file__).parent / "fixtures" / "rigapp"


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _journal(path: Path) -> list[dict]:
    return _records(path)


@pytest.fixture
def host(aws, moto_server, tmp_path):
    topic = aws.client("sns").create_topic(Name="rig-topic")["TopicArn"]
    record = tmp_path / "record.jsonl"
    stage = {"RIG_TOPIC": topic, "RIG_RECORD": str(record)}
    with running_host(APP_DIR, stage, tmp_path, moto_server) as (url, journal):
        aws.client("sns").subscribe(TopicArn=topic, Protocol="http", Endpoint=f"{url}/sns")
        yield {"url": url, "topic": topic, "record": record, "journal": journal}


def test_an_sns_publish_reaches_every_handler_subscribed_to_the_topic_as_a_lambda_sns_event(aws, host):
    aws.client("sns").publish(TopicArn=host["topic"], Message='{"hello": 1}', Subject="s",
                              MessageAttributes={"repository": {"DataType": "String", "StringValue": "sample"}})
    services.wait_until(lambda: len(_records(host["record"])) == 2, 30, "both handlers")
    by_handler = {r["handler"]: r["event"] for r in _records(host["record"])}
    assert set(by_handler) == {"on_topic", "flaky"}
    sns = by_handler["on_topic"]["Records"][0]["Sns"]
    assert sns["Message"] == '{"hello": 1}'
    assert sns["TopicArn"] == host["topic"]
    assert sns["MessageAttributes"]["repository"] == {"Type": "String", "Value": "sample"}


def test_a_failed_invocation_is_retried_and_the_failure_is_journaled(aws, host):
    aws.client("sns").publish(TopicArn=host["topic"], Message="x")
    services.wait_until(lambda: any(r["handler"] == "flaky" for r in _records(host["record"])), 30, "the retry")
    flaky = [j for j in _journal(host["journal"]) if j.get("function") == "flaky" and j["kind"] != "invoke"]
    assert [(j["kind"], j["attempt"]) for j in flaky] == [("error", 1), ("result", 2)]
    assert "transient failure" in flaky[0]["error"]


def test_an_async_invoke_runs_the_named_function_with_the_event(host):
    event = load_event("01_codecommit_trigger_lambda.awsdocs.json")
    req = urllib.request.Request(f"{host['url']}/invoke/request", data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 202
    services.wait_until(lambda: _records(host["record"]), 30, "the request function")
    assert _records(host["record"]) == [{"handler": "request", "event": event}]


def test_an_unknown_function_is_refused_with_its_name(host):
    req = urllib.request.Request(f"{host['url']}/invoke/nope", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 404
    assert "nope" in err.value.read().decode()


def test_the_sns_event_shape_matches_what_lambda_delivers():
    sample = load_event("03_sns_event_lambda.powertools.json")["Records"][0]
    notification = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                    "Message": "hi", "Timestamp": "2019-01-02T12:45:07.000Z", "SignatureVersion": "1",
                    "Signature": "s", "SigningCertURL": "https://c", "UnsubscribeURL": "https://u",
                    "MessageAttributes": {"Test": {"Type": "String", "Value": "TestString"}}}
    record = sns_lambda_event(notification, "arn:sub")["Records"][0]
    assert set(record) == set(sample)
    assert set(record["Sns"]) == set(sample["Sns"])
    assert record["Sns"]["MessageAttributes"] == {"Test": {"Type": "String", "Value": "TestString"}}


def test_a_subscription_confirmation_is_confirmed_by_fetching_its_url(host, httpserver):
    httpserver.expect_request("/confirm", method="GET").respond_with_data("<ConfirmSubscriptionResponse/>")
    body = {"Type": "SubscriptionConfirmation", "TopicArn": host["topic"], "Token": "t", "MessageId": "m",
            "SubscribeURL": httpserver.url_for("/confirm")}
    req = urllib.request.Request(f"{host['url']}/sns", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
    assert [r.path for r, _ in httpserver.log] == ["/confirm"]
    assert _records(host["record"]) == [], "a confirmation invokes no function"


def test_a_scheduled_function_runs_when_its_rule_fires_with_a_scheduled_event(host):
    req = urllib.request.Request(f"{host['url']}/schedule/every_five", data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 202
    services.wait_until(lambda: _records(host["record"]), 30, "the scheduled function")
    [record] = _records(host["record"])
    assert record["handler"] == "every_five"
    assert record["event"]["detail-type"] == "Scheduled Event"
    assert record["event"]["resources"][0].endswith(":rule/every_five")


def test_the_schedule_rate_is_read_from_the_expression():
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("cron(0 12 * * ? *)") is None


def test_health_names_the_topics_functions_subscribe_to_so_the_rig_subscribes_only_those(host):
    with urllib.request.urlopen(f"{host['url']}/health", timeout=5) as resp:
        assert json.load(resp)["topics"] == [host["topic"]]
