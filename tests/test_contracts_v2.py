"""Version 2 of the build request: actions, triggers and hosted repositories, written so that an agent
still on version 1 keeps building CodeCommit pushes and refuses, by name, what it cannot do."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from chalicelib.contracts import BuildRequest, ContractError, parse_build_request

SHA = "a" * 40
V1_PATH = Path(__file__).parent / "fixtures" / "contracts_v1.py"


def old_agent_contracts():
    spec = importlib.util.spec_from_file_location("contracts_v1", V1_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def request(**changes) -> BuildRequest:
    fields = dict(repository="sample", branch="production", commit=SHA, source="codecommit-trigger",
                  event_id="evt-1", requested_at="2026-11-29T10:00:00.000000Z")
    fields.update(changes)
    return BuildRequest(**fields)


def test_a_codecommit_push_is_still_version_1_and_an_old_agent_reads_it():
    push = request()
    assert json.loads(push.to_json())["version"] == 1
    old = old_agent_contracts().parse_build_request(push.to_json())
    assert (old.repository, old.branch, old.commit) == ("sample", "production", SHA)


@pytest.mark.parametrize("changes", [
    dict(action="rollback", commit=None, source="api", trigger="manual"),
    dict(force=True, source="api", trigger="manual"),
    dict(pin=True, source="api", trigger="manual"),
    dict(repository="octo/app", source="webhook", trigger="github"),
    dict(source="webhook", trigger="gitlab"),
])
def test_an_old_agent_refuses_what_it_cannot_do_by_naming_the_version(changes):
    message = request(**changes).to_json()
    assert json.loads(message)["version"] == 2
    old = old_agent_contracts()
    with pytest.raises(old.ContractError, match="version 2 is newer than this code understands"):
        old.parse_build_request(message)
    assert parse_build_request(message) == request(**changes)  # and this agent reads it back unchanged


def test_an_unknown_action_is_refused_with_the_actions_this_agent_knows():
    message = json.loads(request(source="api", trigger="manual", force=True).to_json())
    message["action"] = "promote"
    with pytest.raises(ContractError, match="unknown action 'promote': this agent knows build, rollback") as err:
        parse_build_request(json.dumps(message))
    assert err.value.field == "action"


def test_a_version_1_message_reads_as_a_plain_build_with_the_trigger_its_source_implies():
    old = json.loads(request().to_json())
    for key in ("action", "trigger", "force", "pin", "rollback_to"):
        old.pop(key)
    parsed = parse_build_request(json.dumps(old))
    assert (parsed.action, parsed.force, parsed.pin, parsed.triggered_by) == ("build", False, False, "codecommit")


@pytest.mark.parametrize("field,value", [("trigger", "svn"), ("force", "yes"), ("pin", 1)])
def test_bad_version_2_fields_are_named(field, value):
    message = json.loads(request(source="webhook", trigger="github").to_json())
    message[field] = value
    with pytest.raises(ContractError) as err:
        parse_build_request(json.dumps(message))
    assert err.value.field == field


def test_a_pinned_build_needs_its_commit():
    with pytest.raises(ContractError, match="pin"):
        request(commit=None, pin=True, source="api", trigger="manual")


def test_a_result_carries_its_build_id_and_step_timings_and_an_old_result_reads_without_them():
    from chalicelib.contracts import BuildResult, StepTiming, parse_close_message

    result = BuildResult(pipeline="sample/production", repository="sample", branch="production",
                         outcome="succeeded", commit=SHA, started_at="2026-11-29T10:00:00.000000Z",
                         finished_at="2026-11-29T10:00:09.000000Z", build_id="b-1",
                         steps=(StepTiming("source", "2026-11-29T10:00:00.100000Z", 0.4),
                                StepTiming("build", "2026-11-29T10:00:00.500000Z", 6.5, ok=False)))
    assert parse_close_message(result.to_json()) == result
    old = json.loads(result.to_json())
    del old["build_id"], old["steps"]
    assert parse_close_message(json.dumps(old)).steps == ()
    broken = json.loads(result.to_json())
    broken["steps"][1]["seconds"] = -1
    with pytest.raises(ContractError) as err:
        parse_close_message(json.dumps(broken))
    assert err.value.field == "steps[1].seconds"


def test_a_result_names_the_builder_that_built_it_and_is_still_version_1_for_an_old_notify():
    """A pool of builders (issue 11) needs no new field: builder_instance_id has carried it since version 1."""
    from chalicelib.contracts import BuildResult, parse_close_message

    result = BuildResult(pipeline="sample/production", repository="sample", branch="production",
                         outcome="succeeded", commit=SHA, started_at="2026-11-29T10:00:00.000000Z",
                         finished_at="2026-11-29T10:00:09.000000Z", builder_instance_id="i-0123456789abcdef2")
    assert json.loads(result.to_json())["version"] == 1
    assert parse_close_message(result.to_json()).builder_instance_id == "i-0123456789abcdef2"
    old = old_agent_contracts().parse_close_message(result.to_json())
    assert old.builder_instance_id == "i-0123456789abcdef2"
