"""A push fires the CodeCommit repository trigger: each matching branch becomes one build request."""

from __future__ import annotations

import json

import pytest

from chalicelib.contracts import parse_build_request
from chalicelib.errors import AwsCallError, RetryableError
from tests.conftest import load_event
from tests.lambda_app import SourceRig, chalice_client, function_invoker, import_app, make_source_rig

SEVERAL = "11_codecommit_trigger_several_refs.pushdeploy-GENERATED.json"


@pytest.fixture
def rig(aws) -> SourceRig:
    return make_source_rig(aws)


@pytest.fixture
def invoke(rig, monkeypatch, tmp_path):
    return function_invoker(rig, monkeypatch, tmp_path, "request")


def test_push_to_production_publishes_one_request_with_filter_attributes(rig, invoke, caplog):
    event = load_event(SEVERAL)
    event["Records"] = event["Records"][:1]
    invoke(event)
    [(body, attributes)] = rig.published()
    request = parse_build_request(body)
    assert (request.repository, request.branch, request.commit) == (
        "sample", "production", "0123456789abcdef0123456789abcdef01234567")
    assert (request.source, request.event_id, request.pushed_by) == (
        "codecommit-trigger", "6a3d1c4e-0b7f-4d8e-9a51-2f6c8e1d0a11", "arn:aws:iam::123456789012:user/alice")
    assert attributes == {"repository": "sample", "branch": "production", "type": "pushdeploy.build_request"}
    assert "published build request for sample/production at 0123456789ab" in caplog.text


def test_several_records_and_references_each_publish_when_they_match(rig, invoke, caplog):
    result = invoke(load_event(SEVERAL), BRANCH_FILTER='{"sample": ["production", "feature/*"], "*": ["main"]}')
    published = sorted(parse_build_request(body).pipeline for body, _ in rig.published())
    assert published == ["billing/main", "sample/feature/login", "sample/production"]
    assert len(result["published"]) == 3
    assert "refs/tags/v1.0) not built: not a branch" in caplog.text
    assert "refs/heads/old-feature) not built: reference deleted" in caplog.text


def test_branches_outside_the_filter_do_not_build(rig, invoke, caplog):
    invoke(load_event(SEVERAL), BRANCH_FILTER='{"sample": ["production"]}')
    assert [parse_build_request(body).pipeline for body, _ in rig.published()] == ["sample/production"]
    assert "billing/main at 444444444444 does not match BRANCH_FILTER; not built" in caplog.text
    assert "sample/feature/login at 333333333333 does not match BRANCH_FILTER" in caplog.text


def test_aws_docs_sample_with_39_character_commit_publishes_nothing(rig, invoke, caplog):
    """The sample event as AWS publishes it carries a 39-character commit id: malformed."""
    result = invoke(load_event("01_codecommit_trigger_lambda.awsdocs.json"), BRANCH_FILTER='{"*": ["*"]}')
    assert rig.published() == []
    assert result["published"] == []
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert line.startswith("request: trigger Records[0].codecommit.references[0] (refs/heads/master) not built: "
                           "commit: expected a 40-character lowercase hex commit id, got '5e493c6f")


def test_malformed_reference_does_not_stop_valid_ones_in_the_same_event(rig, invoke, caplog):
    result = invoke(load_event(SEVERAL), BRANCH_FILTER='{"sample": ["production*"]}')
    assert [parse_build_request(body).pipeline for body, _ in rig.published()] == ["sample/production"]
    assert "references[4] (refs/heads/production-hotfix) not built: commit:" in caplog.text
    assert "Records[0].codecommit.references[4] (refs/heads/production-hotfix)" in result["skipped"]


@pytest.mark.parametrize("event, where", [
    ({}, "Records: expected a non-empty list"),
    ({"Records": "x"}, "Records: expected a non-empty list"),
    ({"Records": ["x"]}, "Records[0]: expected an object, got str"),
    ([], "(event): expected an object, got list"),
])
def test_malformed_event_is_one_log_line_and_no_retry(rig, invoke, caplog, event, where):
    result = invoke(event)
    assert rig.published() == []
    assert result["published"] == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"request: malformed CodeCommit trigger event, nothing published: {where}"]


@pytest.mark.parametrize("change, where, reason", [
    ({"eventSourceARN": "lambda-pipeline-repo"}, "Records[0].eventSourceARN", "not an ARN"),
    ({"codecommit": {}}, "Records[0].codecommit.references", "missing or empty"),
    ({"eventId": None}, "Records[0].eventId", "missing or empty"),
])
def test_malformed_record_names_the_field(rig, invoke, caplog, change, where, reason):
    event = load_event(SEVERAL)
    event["Records"][0].update(change)
    invoke(event, BRANCH_FILTER='{"*": ["*"]}')
    assert [parse_build_request(body).pipeline for body, _ in rig.published()] == ["billing/main"]
    assert f"request: trigger {where} not built: {reason}" in caplog.text


def test_missing_commit_names_the_field(rig, invoke, caplog):
    event = load_event(SEVERAL)
    del event["Records"][0]["codecommit"]["references"][0]["commit"]
    invoke(event)
    assert rig.published() == []
    assert "(refs/heads/production) not built: commit: missing" in caplog.text


def test_request_topic_in_another_region_receives_the_request(aws, monkeypatch, tmp_path):
    """The topic ARN decides the SNS region (it may also be another account's topic)."""
    remote = make_source_rig(aws, region="eu-west-1")
    module = import_app(monkeypatch, remote.env())
    event = load_event(SEVERAL)
    with chalice_client(module, tmp_path) as client:
        client.lambda_.invoke("request", event)
    assert [parse_build_request(body).pipeline for body, _ in remote.published()] == ["sample/production"]


def test_missing_topic_is_a_configuration_error(rig, invoke):
    missing = rig.topic_arn.replace("pushdeploy-request", "no-such-topic")
    with pytest.raises(AwsCallError, match="NotFound"):
        invoke(load_event(SEVERAL), REQUEST_TOPIC_ARN=missing)


def test_unreachable_sns_is_retryable(rig, invoke, monkeypatch):
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match="publishing the build request for sample/production"):
        invoke(load_event(SEVERAL))


def test_invalid_branch_filter_is_reported_with_the_setting_name(rig, invoke):
    from chalicelib.errors import SettingsError

    with pytest.raises(SettingsError, match=r"invalid BRANCH_FILTER: 'sample': expected a non-empty list"):
        invoke(load_event(SEVERAL), BRANCH_FILTER=json.dumps({"sample": "production"}))


def test_console_test_trigger_event_says_so_and_builds_nothing(rig, invoke, caplog):
    result = invoke(load_event("14_codecommit_trigger_console_test.pushdeploy-GENERATED.json"))
    assert rig.published() == []
    assert result["published"] == []
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("chalicelib")]
    assert lines == [("INFO", "request: trigger Records[0] (trigger 'pushdeploy') not built: "
                              "CodeCommit console test event: the trigger works; nothing built")]


@pytest.mark.parametrize("deleted", ["true", 1, "false", 0, [], {}])
def test_a_non_boolean_deleted_flag_is_a_malformed_reference_and_the_others_still_build(rig, invoke, caplog, deleted):
    event = load_event(SEVERAL)
    event["Records"][0]["codecommit"]["references"][0]["deleted"] = deleted
    result = invoke(event, BRANCH_FILTER='{"sample": ["production"], "billing": ["main"]}')
    assert [parse_build_request(body).pipeline for body, _ in rig.published()] == ["billing/main"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert f"request: trigger Records[0].codecommit.references[0].deleted not built: expected true or false, " \
           f"got {deleted!r}" in errors
    assert "Records[0].codecommit.references[0].deleted" in result["skipped"]


@pytest.mark.parametrize("branch, shown", [
    ("production\nSubject: forged", r"'refs/heads/production\nSubject: forged'"),
    ("x" * 300_000, "'refs/heads/" + "x" * 26 + "..." + "x" * 38 + "'"),
])
def test_a_branch_name_git_would_refuse_is_malformed_and_the_others_still_build(rig, invoke, caplog, branch, shown):
    event = load_event(SEVERAL)
    event["Records"][0]["codecommit"]["references"][0]["ref"] = "refs/heads/" + branch
    result = invoke(event, BRANCH_FILTER='{"*": ["*"]}')
    published = sorted(parse_build_request(body).pipeline for body, _ in rig.published())
    assert published == ["billing/main", "sample/feature/login"]
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "references[0]" in r.getMessage()]
    assert error.startswith(f"request: trigger Records[0].codecommit.references[0] ({shown}) not built: branch: ")
    assert "\n" not in error and len(error) < 500
    assert len(result["published"]) == 2


def test_a_commit_that_is_not_a_string_even_nested_thousands_deep_is_a_malformed_reference(rig, invoke, caplog):
    """Found by the fuzz suite: building the request copied the nesting recursively (RecursionError)."""
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    event = load_event(SEVERAL)
    event["Records"][0]["codecommit"]["references"][0]["commit"] = nested
    invoke(event, BRANCH_FILTER='{"*": ["*"]}')
    assert sorted(parse_build_request(body).pipeline for body, _ in rig.published()) == [
        "billing/main", "sample/feature/login"]
    assert "references[0] (refs/heads/production) not built: commit: expected a string, got [[[[...]]]]" in caplog.text
