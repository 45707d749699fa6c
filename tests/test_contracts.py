"""The message contracts shared by the Lambda side and the agent (chalicelib/contracts.py)."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.contracts import (
    SCHEMA_VERSION,
    BuildRequest,
    BuildResult,
    CommitInfo,
    ContractError,
    EndOfRun,
    ImageInfo,
    LogLocation,
    ServiceDeployment,
    close_message_attributes,
    parse_build_request,
    parse_close_message,
    pipeline_id,
    unwrap_sns_envelope,
    utc_now,
)
from tests.conftest import load_event

SHA = "0123456789abcdef0123456789abcdef01234567"


def a_request(**changes) -> BuildRequest:
    fields = dict(repository="sample", branch="production", commit=SHA, source="codecommit-trigger",
                  event_id="evt-1", requested_at="2026-11-26T10:00:00.000000Z", pushed_by="arn:aws:iam::1:user/a")
    fields.update(changes)
    return BuildRequest(**fields)


def a_result(**changes) -> BuildResult:
    fields = dict(
        pipeline="sample/production", repository="sample", branch="production", outcome="succeeded", commit=SHA,
        started_at="2026-11-26T10:00:00Z", finished_at="2026-11-26T10:01:30Z", commits=(CommitInfo(SHA, "s", "a"),),
        image=ImageInfo("reg/production/sample:t1", "t1", "sha256:" + "e" * 64),
        services=(ServiceDeployment("c", "web", "arn:aws:ecs:r:1:task-definition/f:1",
                                    "arn:aws:ecs:r:1:task-definition/f:2"),),
        error=None, log=LogLocation("/pushdeploy/builds", "stream", "ap-northeast-1"), builder_instance_id="i-0abc")
    fields.update(changes)
    return BuildResult(**fields)


def mutate(text: str, **changes) -> str:
    data = json.loads(text)
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


def test_build_request_round_trip_and_pipeline_key():
    request = a_request()
    assert parse_build_request(request.to_json()) == request
    assert request.pipeline == pipeline_id("sample", "production") == "sample/production"
    assert request.message_attributes()["branch"] == {"DataType": "String", "StringValue": "production"}
    assert json.loads(request.to_json())["version"] == 1  # a plain CodeCommit build still reaches a v1 agent


def test_build_result_and_end_of_run_round_trip():
    result = a_result()
    assert parse_close_message(result.to_json()) == result
    assert result.duration_seconds == 90
    end = EndOfRun("i-0abc", utc_now(), "queue empty")
    assert parse_close_message(end.to_json()) == end
    assert close_message_attributes(result)["outcome"]["StringValue"] == "succeeded"
    assert close_message_attributes(end)["type"]["StringValue"] == "pushdeploy.end_of_run"


@pytest.mark.parametrize("changes, field", [
    ({"repository": ...}, "repository"),
    ({"branch": ""}, "branch"),
    ({"commit": "5e493c6f3067653f3d04eca608b4901eb227078"}, "commit"),
    ({"commit": SHA.upper()}, "commit"),
    ({"source": "gitweb"}, "source"),
    ({"event_id": 7}, "event_id"),
    ({"requested_at": "yesterday"}, "requested_at"),
    ({"pushed_by": ["a"]}, "pushed_by"),
    ({"type": "pushdeploy.build_result"}, "type"),
    ({"version": "1"}, "version"),
    ({"version": SCHEMA_VERSION + 1}, "version"),
])
def test_malformed_build_request_names_the_field(changes, field):
    with pytest.raises(ContractError) as caught:
        parse_build_request(mutate(a_request().to_json(), **changes))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_newer_version_is_refused_with_both_versions_named():
    with pytest.raises(ContractError, match=f"version {SCHEMA_VERSION + 1} is newer than this code understands"):
        parse_close_message(mutate(a_result().to_json(), version=SCHEMA_VERSION + 1))


def test_an_end_of_run_says_whether_its_agent_exited_and_keeps_the_version():
    exited = EndOfRun("i-0abc", utc_now(), "agent service ended: signal", agent_exited=True)
    assert parse_close_message(exited.to_json()) == exited
    assert json.loads(exited.to_json())["version"] == 1
    assert parse_close_message(EndOfRun("i-0abc", utc_now()).to_json()).agent_exited is False


def test_an_end_of_run_written_before_agent_exited_existed_still_parses_as_not_exited():
    older = mutate(EndOfRun("i-0abc", "2026-11-26T10:00:00Z", "queue empty for 60s").to_json(), agent_exited=...)
    assert "agent_exited" not in older
    parsed = parse_close_message(older)
    assert (parsed.builder_instance_id, parsed.reason, parsed.agent_exited) == ("i-0abc", "queue empty for 60s", False)
    assert parse_close_message(mutate(older, agent_exited=None)).agent_exited is False


@pytest.mark.parametrize("value", ["true", 1, 0, [], {}])
def test_an_end_of_run_with_a_non_boolean_agent_exited_names_the_field(value):
    with pytest.raises(ContractError) as caught:
        parse_close_message(mutate(EndOfRun("i-0abc", utc_now()).to_json(), agent_exited=value))
    assert caught.value.field == "agent_exited"
    assert str(caught.value) == f"agent_exited: expected true or false, got {value!r}"


@pytest.mark.parametrize("changes, field", [
    ({"outcome": "deployed"}, "outcome"),
    ({"pipeline": ...}, "pipeline"),
    ({"started_at": "10:00"}, "started_at"),
    ({"commits": [{"sha": "abc"}]}, "commits[0].sha"),
    ({"commits": "abc"}, "commits"),
    ({"image": {"reference": "r"}}, "image.tag"),
    ({"services": [{"cluster": "c"}]}, "services[0].service"),
    ({"log": {"group": "g", "stream": 3}}, "log.stream"),
    ({"error": 42}, "error"),
])
def test_malformed_build_result_names_the_field(changes, field):
    with pytest.raises(ContractError) as caught:
        parse_close_message(mutate(a_result().to_json(), **changes))
    assert caught.value.field == field


@pytest.mark.parametrize("text, field", [
    ("", "(message)"),
    ("[1, 2]", "type"),
    ('{"type": "pushdeploy.build_request", "version": 1}', "type"),
    ('{"type": "pushdeploy.end_of_run", "version": 1}', "sent_at"),
])
def test_malformed_close_message_names_the_field(text, field):
    with pytest.raises(ContractError) as caught:
        parse_close_message(text)
    assert caught.value.field == field


def test_legacy_build_and_stop_are_understood():
    legacy = parse_build_request(" build\n", event_id="msg-1")
    assert (legacy.is_legacy, legacy.pipeline, legacy.event_id) == (True, None, "msg-1")
    assert legacy.message_attributes() == {"type": {"DataType": "String", "StringValue": "pushdeploy.build_request"}}
    stop = parse_close_message("stop")
    assert isinstance(stop, EndOfRun) and stop.builder_instance_id is None


def test_long_error_is_truncated_not_refused():
    result = a_result(outcome="failed", error="x" * 5000)
    assert len(result.error) == 1000 and result.error.endswith("...")
    assert parse_close_message(result.to_json()).error == result.error


def test_sns_envelope_from_the_build_queue_is_unwrapped():
    body = load_event("04b_sqs_event_with_sns_envelope.powertools.json")["Records"][0]["body"]
    assert json.loads(unwrap_sns_envelope(body)) == {"message": "hello world", "username": "lessa"}


def test_raw_delivery_body_is_returned_as_is():
    text = a_request().to_json()
    assert unwrap_sns_envelope(text) == text
    assert unwrap_sns_envelope("build") == "build"
    envelope = json.dumps({"Type": "Notification", "Message": text})
    assert parse_build_request(unwrap_sns_envelope(envelope)) == a_request()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("parse", [parse_build_request, parse_close_message])
def test_json_nested_too_deep_for_the_parser_is_a_contract_error(parse):
    deep = nested(100_000)
    with pytest.raises(RecursionError):
        json.loads(deep)  # the parser itself gives up: that must not escape as a RecursionError
    with pytest.raises(ContractError, match="nested too deeply") as caught:
        parse(deep)
    assert caught.value.field == "(message)"


def test_an_sns_envelope_check_on_a_deeply_nested_body_returns_it_for_the_contract_to_refuse():
    deep = '{"Type": "Notification", "Message": ' + nested(100_000) + "}"
    assert unwrap_sns_envelope(deep) == deep
    with pytest.raises(ContractError):
        parse_build_request(unwrap_sns_envelope(deep))


@pytest.mark.parametrize("key", ["started_at", "finished_at"])
def test_a_result_timestamp_without_a_utc_offset_is_refused(key):
    with pytest.raises(ContractError, match="with Z or a UTC offset") as caught:
        parse_close_message(mutate(a_result().to_json(), **{key: "2026-11-26T10:00:00"}))
    assert caught.value.field == key


@pytest.mark.parametrize("text, changes", [
    (a_request().to_json(), {"requested_at": "2026-11-26T10:00:00"}),
    (EndOfRun("i-0abc", utc_now()).to_json(), {"sent_at": "2026-11-26T10:00:00.5"}),
])
def test_every_contract_timestamp_must_name_its_utc_offset(text, changes):
    with pytest.raises(ContractError, match="with Z or a UTC offset"):
        (parse_build_request if "build_request" in text else parse_close_message)(mutate(text, **changes))
    offset = mutate(text, **{k: "2026-11-26T19:00:00+09:00" for k in changes})
    (parse_build_request if "build_request" in text else parse_close_message)(offset)


def test_duration_of_a_result_built_in_code_with_a_naive_time_is_unknown_not_an_error():
    mixed = a_result(started_at="2026-11-26T10:00:00", finished_at="2026-11-26T10:01:30Z")
    assert mixed.duration_seconds is None
    assert a_result(started_at="2026-11-26T19:00:00+09:00", finished_at="2026-11-26T10:01:30Z").duration_seconds == 90


@pytest.mark.parametrize("commit", [SHA + "\n", SHA + "\r\n", "\n" + SHA])
def test_a_commit_id_with_a_line_break_is_refused(commit):
    with pytest.raises(ContractError) as caught:
        parse_build_request(mutate(a_request().to_json(), commit=commit))
    assert caught.value.field == "commit"


@pytest.mark.parametrize("field, value", [
    ("branch", "feature\nSubject: forged"), ("branch", "x" * 257), ("branch", "a..b"), ("branch", "with space"),
    ("branch", "tab\there"), ("branch", "bad\u2028line"), ("branch", "/lead"), ("branch", "end.lock"),
    ("branch", "lone\ud800"), ("repository", "sam//ple"), ("repository", "/sample"),
    ("repository", "o/" + "x" * 254), ("repository", "x" * 101), ("repository", "repo.git"),
    ("repository", "samplé"), ("event_id", "e" * 257), ("pushed_by", "a" * 2049),
])
def test_names_and_ids_outside_codecommit_and_git_limits_are_refused(field, value):
    with pytest.raises(ContractError) as caught:
        parse_build_request(mutate(a_request().to_json(), **{field: value}))
    assert caught.value.field == field


@pytest.mark.parametrize("branch", ["production", "feature/login", "release/1.2.3", "ü-umlaut", "x" * 256, "a.b_c-d"])
def test_ordinary_branch_names_still_parse(branch):
    assert parse_build_request(mutate(a_request().to_json(), branch=branch)).branch == branch


def test_error_messages_quote_huge_values_bounded():
    with pytest.raises(ContractError) as caught:
        parse_build_request(mutate(a_request().to_json(), source="s" * 300_000))
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("value, shown", [(10**5000, "<int of 16610 bits>"), ([[[[["x"]]]]], "[[[[...]]]]")],
                         ids=["huge-int", "nested"])
def test_a_quoted_value_is_bounded_even_when_repr_would_fail(value, shown):
    with pytest.raises(ContractError, match=re.escape(f"commit: expected a 40-character lowercase hex commit id, "
                                                      f"got {shown}")):
        BuildRequest.from_dict({**json.loads(a_request().to_json()), "commit": value})
