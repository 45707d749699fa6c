"""Each reference of a push is published on its own: SNS refusing one (a permanent error) is logged as an
ERROR naming it and does not cost the others their builds; a transient failure is raised as retryable only
after every other reference was tried. The SNS Subject is always one SNS accepts.

SNS's refusals of one message's input cannot be made with moto here: the contract already refuses every
input that real SNS would (names, sizes), and moto does not enforce SNS's Subject rules. So these SNS
answers come from botocore's Stubber on a real SNS client; everything before the publish is the real code.
"""

from __future__ import annotations

import logging

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import RetryableError
from chalicelib.request.branch_filter import BranchFilter
from chalicelib.request.handler import RequestHandler
from chalicelib.request.push_events import read_trigger_event
from chalicelib.request.topic import MAX_SUBJECT_CHARS, RequestTopic, safe_subject
from tests.conftest import load_event

TOPIC = "arn:aws:sns:us-east-1:123456789012:pushdeploy-request"
EVERYTHING = BranchFilter.parse('{"*": ["*"]}')


def handler_with_answers(answers: list[str]) -> tuple[RequestHandler, Stubber]:
    """A request handler whose SNS publishes get ``answers`` in order: "ok" or an error code."""
    sns = boto3.client("sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(sns)
    expected = {"TopicArn": TOPIC, "Message": ANY, "Subject": ANY, "MessageAttributes": ANY}
    for answer in answers:
        if answer == "ok":
            stubber.add_response("publish", {"MessageId": "m"}, expected)
        else:
            status = 400 if answer == "InvalidParameter" else 503
            stubber.add_client_error("publish", answer, f"Invalid parameter: {answer}", status,
                                     expected_params=expected)
    stubber.activate()
    return RequestHandler(EVERYTHING, RequestTopic(sns, TOPIC)), stubber


def three_branches() -> dict:
    """sample/production, sample/feature/login and billing/main, in that order."""
    return load_event("11_codecommit_trigger_several_refs.pushdeploy-GENERATED.json")


def test_a_reference_sns_refuses_is_an_error_naming_it_and_the_others_are_published(caplog):
    handler, stubber = handler_with_answers(["InvalidParameter", "ok", "ok"])
    result = handler.on_trigger(three_branches())
    stubber.assert_no_pending_responses()
    assert [p.split("@")[0] for p in result["published"]] == ["sample/feature/login", "billing/main"]
    assert [r.split("@")[0] for r in result["refused"]] == ["sample/production"]
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "SNS refused" in r.getMessage()]
    assert error.startswith("request: SNS refused the build request for sample/production at 0123456789ab "
                            "(event 6a3d1c4e-0b7f-4d8e-9a51-2f6c8e1d0a11); not built, other references still "
                            "published: publishing the build request for sample/production failed: InvalidParameter")


def test_a_transient_failure_is_retryable_only_after_the_other_references_were_tried(caplog):
    caplog.set_level(logging.INFO, logger="chalicelib")
    handler, stubber = handler_with_answers(["ok", "ServiceUnavailable", "ok"])
    with pytest.raises(RetryableError, match=r"\(not published: sample/feature/login@3333333333333333333333333333333333"
                                             r"333333; published: 2\)"):
        handler.on_trigger(three_branches())
    stubber.assert_no_pending_responses()  # billing/main was still tried after the failure
    assert "published build request for billing/main" in caplog.text


def test_a_refused_and_a_transient_reference_retry_for_the_transient_one():
    handler, stubber = handler_with_answers(["InvalidParameter", "Throttling", "ok"])
    with pytest.raises(RetryableError, match="not published: sample/feature/login"):
        handler.on_trigger(three_branches())
    stubber.assert_no_pending_responses()


def test_the_subject_of_a_real_request_is_what_sns_accepts():
    pushes = read_trigger_event(three_branches())
    assert [safe_subject(f"build {r.pipeline}") for r in pushes.requests] == [
        "build sample/production", "build sample/feature/login", "build billing/main"]


@given(st.text())
def test_any_text_becomes_a_subject_sns_accepts(text):
    """SNS: ASCII printable text starting with a letter, number or punctuation, no line breaks or control
    characters, fewer than 100 characters."""
    subject = safe_subject(text)
    assert 0 < len(subject) <= MAX_SUBJECT_CHARS < 100
    assert all(" " <= c <= "~" for c in subject)
    assert subject[0] != " "


def test_a_long_subject_shows_it_was_cut():
    subject = safe_subject("build sample/" + "ü" * 200)
    assert subject == "build sample/" + "?" * 83 + "..."
