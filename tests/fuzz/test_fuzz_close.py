"""The close function never crashes, and stops the builder only for an end of run the contract accepts
that names the configured builder: mutations of real close-topic messages (end of run, an exited agent's
end of run, the seed's ``stop``, a build result, an alert)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.contracts import Alert, ContractError, EndOfRun, parse_close_message
from tests.fuzz.conftest import AwsCalls
from tests.fuzz.harness import assert_enough, fuzz, tally
from tests.fuzz.mutations import message_texts, raw_texts, sweep, to_text
from tests.lambda_app import PipelineRig, chalice_client, import_app, sns_event
from tests.test_notify import result as build_result


def samples(instance_id: str) -> list[Any]:
    messages = [EndOfRun(instance_id, "2026-11-26T10:20:00.000000Z", "queue empty"),
                EndOfRun(instance_id, "2026-11-26T10:20:00Z", "agent service ended: signal", agent_exited=True),
                build_result(), Alert("stale_request", "a request waits", "2026-11-26T10:20:00Z",
                                      pipeline="sample/production")]
    return [json.loads(message.to_json()) for message in messages]


def expected(message: str, rig: PipelineRig) -> tuple[set[str], list[str]]:
    """(acceptable results, EC2 changes) for ``message`` with a running builder and an empty queue."""
    try:
        parsed = parse_close_message(message)
    except ContractError:
        return {"malformed"}, []
    if not isinstance(parsed, EndOfRun):
        return {"not-end-of-run"}, []
    if (parsed.builder_instance_id or rig.instance_id) != rig.instance_id:
        return {"refused"}, []
    return {"stopped", "stopped-agent-exited"}, ["StopInstances"]


def test_close_never_crashes_and_stops_only_the_named_builder_on_a_valid_end_of_run(pipeline_rig, monkeypatch,
                                                                                      tmp_path):
    module = import_app(monkeypatch, pipeline_rig.env())
    calls = AwsCalls(module, ("ec2", None), ("sqs", None))
    with chalice_client(module, tmp_path) as client:

        @fuzz("close", [to_text(edited) for sample in samples(pipeline_rig.instance_id) for edited in sweep(sample)])
        @given(st.one_of(st.sampled_from(samples(pipeline_rig.instance_id)).flatmap(message_texts), raw_texts("stop")))
        def run(message: str) -> None:
            tally("close")
            result = client.lambda_.invoke("close", sns_event(client, message)).payload
            results, changes = expected(message, pipeline_rig)
            assert result in results
            assert [name for name, _ in calls.changes()] == changes
            if changes:
                assert pipeline_rig.state() == "stopped"
                pipeline_rig.client("ec2").start_instances(InstanceIds=[pipeline_rig.instance_id])

        run()
    assert pipeline_rig.state() == "running"
    assert_enough("close")
