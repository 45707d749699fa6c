"""A push reported by EventBridge ("CodeCommit Repository State Change") becomes a build request."""

from __future__ import annotations

import pytest

from chalicelib.contracts import parse_build_request
from chalicelib.request.push_events import STATE_CHANGE_PATTERN
from tests.conftest import load_event
from tests.lambda_app import SourceRig, function_invoker, import_app, make_source_rig

PUSH = "12_eventbridge_codecommit_referenceUpdated_push.pushdeploy-GENERATED.json"


@pytest.fixture
def rig(aws) -> SourceRig:
    return make_source_rig(aws)


@pytest.fixture
def invoke(rig, monkeypatch, tmp_path):
    return function_invoker(rig, monkeypatch, tmp_path, "request_events")


def test_branch_update_publishes_a_request(rig, invoke, caplog):
    invoke(load_event(PUSH))
    [(body, attributes)] = rig.published()
    request = parse_build_request(body)
    assert (request.pipeline, request.commit, request.source, request.event_id, request.pushed_by) == (
        "sample/production", "89abcdef0123456789abcdef0123456789abcdef", "eventbridge",
        "3f1c9a2e-5b7d-4e8f-a0c1-6d2e9b8f7a33", "arn:aws:iam::123456789012:user/alice")
    assert (attributes["repository"], attributes["branch"]) == ("sample", "production")
    assert "published build request for sample/production at 89abcdef0123" in caplog.text


def test_branch_creation_publishes_a_request(rig, invoke):
    event = load_event(PUSH)
    event["detail"]["event"] = "referenceCreated"
    del event["detail"]["oldCommitId"]
    invoke(event)
    assert [parse_build_request(body).pipeline for body, _ in rig.published()] == ["sample/production"]


def test_branch_deletion_never_builds(rig, invoke, caplog):
    event = load_event("02c_eventbridge_codecommit_referenceDeleted.awsdocs.json")
    result = invoke(event, BRANCH_FILTER='{"*": ["*"]}')
    assert rig.published() == [] and result["published"] == []
    assert "'referenceDeleted' never builds" in caplog.text


def test_tag_creation_never_builds(rig, invoke, caplog):
    invoke(load_event("13_eventbridge_codecommit_referenceCreated_tag.pushdeploy-GENERATED.json"),
           BRANCH_FILTER='{"*": ["*"]}')
    assert rig.published() == []
    assert "refs/tags/v2.0.0) not built: not a branch" in caplog.text


def test_aws_docs_merge_sample_has_no_real_commit_id_so_nothing_builds(rig, invoke, caplog):
    """AWS's published referenceUpdated example carries placeholders like '7f0103fMERGE'."""
    invoke(load_event("02_eventbridge_codecommit_referenceUpdated.awsdocs.json"), BRANCH_FILTER='{"*": ["*"]}')
    assert rig.published() == []
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "detail (refs/heads/myBranch) not built: commit: expected a 40-character" in line


def test_unmatched_branch_does_not_build(rig, invoke, caplog):
    invoke(load_event(PUSH), BRANCH_FILTER='{"sample": ["release/*"]}')
    assert rig.published() == []
    assert "sample/production at 89abcdef0123 does not match BRANCH_FILTER" in caplog.text


@pytest.mark.parametrize("change, message", [
    ({"source": "aws.s3"}, "source: expected 'aws.codecommit', got 'aws.s3'"),
    ({"detail": "x"}, "detail: expected an object, got str"),
    ({"id": ""}, "id: missing event id"),
])
def test_malformed_event_is_one_log_line(rig, invoke, caplog, change, message):
    event = load_event(PUSH)
    event.update(change)
    invoke(event)
    assert rig.published() == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"request: malformed CodeCommit state-change event, nothing published: {message}"]


def test_missing_repository_name_names_the_field(rig, invoke, caplog):
    event = load_event(PUSH)
    del event["detail"]["repositoryName"]
    invoke(event)
    assert rig.published() == []
    assert "detail.repositoryName: missing" in caplog.text


def test_event_rule_pattern_selects_branch_pushes_only(rig, monkeypatch):
    """Chalice creates the EventBridge rule from this pattern; deletions and tags never invoke us."""
    module = import_app(monkeypatch, rig.env())
    [source] = [s for s in module.app.event_sources if s.name == "request_events"]
    assert source.event_pattern == STATE_CHANGE_PATTERN
    assert source.event_pattern["detail"] == {"event": ["referenceCreated", "referenceUpdated"],
                                              "referenceType": ["branch"]}


def test_unreachable_sns_is_retryable(rig, invoke, monkeypatch):
    from chalicelib.errors import RetryableError
    from localrig.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RetryableError, match="publishing the build request for sample/production"):
        invoke(load_event(PUSH))
