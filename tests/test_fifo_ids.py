"""A build request's FIFO message group and deduplication id: valid for SQS whatever the pipeline's name,
the same for the same request, and different wherever SQS must keep two requests apart."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.contracts import BuildRequest
from chalicelib.fifo import (
    EVERY_PIPELINE_GROUP,
    deduplication_id,
    is_fifo,
    message_group_id,
    publish_options,
)

SHA = "b" * 40
SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")

# Names as the contracts accept them (the request parser refuses the rest): hosted paths up to 255 characters,
# branches up to 256 with any non-control unicode.
segments = st.text(st.sampled_from("abcXYZ019._-"), min_size=1, max_size=60).filter(lambda s: not s.startswith("."))
repositories = st.one_of(segments.map(lambda s: s[:100]).filter(lambda s: not s.endswith(".git")),
                         st.lists(segments, min_size=2, max_size=5).map("/".join)
                         .filter(lambda s: len(s) <= 255 and not s.endswith(".git")))
branches = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
                                 blacklist_characters="~^:?*[\\/.@"), min_size=1, max_size=256)


def request(repository: str = "sample", branch: str = "production", **changes) -> BuildRequest:
    fields = dict(commit=SHA, source="webhook", event_id="delivery-1", requested_at="2026-11-30T01:00:00Z",
                  trigger="github")
    fields.update(changes)
    return BuildRequest(repository, branch, **fields)


def test_a_pipeline_id_sqs_accepts_is_the_group_itself():
    assert message_group_id(request("octo/app", "main")) == "octo/app/main"


def test_a_pipeline_id_sqs_refuses_becomes_a_hash_of_it():
    long_branch = "release/" + "x" * 200
    group = message_group_id(request("sample", long_branch))
    assert re.fullmatch(r"p-[0-9a-f]{40}", group)
    assert message_group_id(request("sample", "production-ü")).startswith("p-")


def test_a_legacy_build_of_every_pipeline_has_one_group_of_its_own():
    assert message_group_id(BuildRequest.legacy()) == EVERY_PIPELINE_GROUP


@given(repositories, branches)
def test_the_group_is_always_a_valid_sqs_id_and_deterministic(repository, branch):
    group = message_group_id(request(repository, branch))
    assert SQS_ID.fullmatch(group)
    assert group == message_group_id(request(repository, branch, commit="c" * 40, event_id="other"))


@given(repositories, branches, repositories, branches)
def test_distinct_pipelines_have_distinct_groups(repo_a, branch_a, repo_b, branch_b):
    a, b = request(repo_a, branch_a), request(repo_b, branch_b)
    if a.pipeline != b.pipeline:
        assert message_group_id(a) != message_group_id(b)


def test_a_hashed_group_never_equals_a_readable_one():
    """A readable group is a pipeline id and holds '/'; a hashed one never does."""
    hashed = message_group_id(request("sample", "x" * 200))
    assert "/" not in hashed and "/" in message_group_id(request("sample", "main"))


def test_the_deduplication_id_is_the_push_event_ref_and_action():
    push = request()
    assert deduplication_id(push) == deduplication_id(request(requested_at="2026-11-30T02:00:00Z"))
    assert deduplication_id(push) != deduplication_id(request(event_id="delivery-2"))
    assert deduplication_id(push) != deduplication_id(request(branch="staging"))
    rollback = request(action="rollback", commit=None, source="api", trigger="manual")
    build = request(commit=None, source="api", trigger="manual")
    assert deduplication_id(rollback) != deduplication_id(build)
    assert re.fullmatch(r"[0-9a-f]{64}", deduplication_id(push))


@given(st.text(max_size=256), branches)
def test_the_deduplication_id_is_always_a_valid_sqs_id(event_id, branch):
    assert SQS_ID.fullmatch(deduplication_id(request(branch=branch, event_id=event_id)))


@pytest.mark.parametrize("name, fifo", [
    ("arn:aws:sns:us-east-1:123456789012:pushdeploy-request.fifo", True),
    ("https://sqs.us-east-1.amazonaws.com/123456789012/pushdeploy-build.fifo", True),
    ("arn:aws:sns:us-east-1:123456789012:pushdeploy-request", False),
    ("https://sqs.us-east-1.amazonaws.com/123456789012/pushdeploy-fifo", False),
])
def test_is_fifo_reads_the_name(name, fifo):
    assert is_fifo(name) is fifo


def test_a_standard_topic_gets_no_fifo_parameters():
    push = request()
    assert publish_options("arn:aws:sns:us-east-1:123456789012:pushdeploy-request", push) == {}
    assert publish_options("arn:aws:sns:us-east-1:123456789012:pushdeploy-request.fifo", push) == {
        "MessageGroupId": "sample/production", "MessageDeduplicationId": deduplication_id(push)}
