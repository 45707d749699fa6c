"""The build_start function never crashes, and starts the builder only for a build request the contract
accepts: mutations of a real build request (as the request function publishes it) and of the seed's
plain ``build``, delivered as SNS messages."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.contracts import BuildRequest, ContractError, parse_build_request
from tests.fuzz.conftest import AwsCalls
from tests.fuzz.harness import assert_enough, fuzz, tally
from tests.fuzz.mutations import message_texts, raw_texts, sweep, to_text
from tests.lambda_app import chalice_client, import_app, sns_event

REQUEST = json.loads(BuildRequest("sample", "production", "0123456789abcdef0123456789abcdef01234567",
                                  "codecommit-trigger", "6a3d1c4e-0b7f-4d8e-9a51-2f6c8e1d0a11",
                                  "2026-11-26T10:15:00.123000Z", "arn:aws:iam::123456789012:user/alice").to_json())


def is_valid(message: str) -> bool:
    try:
        parse_build_request(message)
    except ContractError:
        return False
    return True


def test_build_start_never_crashes_and_starts_the_builder_only_for_a_valid_request(pipeline_rig, monkeypatch,
                                                                                     tmp_path):
    pipeline_rig.stop()
    module = import_app(monkeypatch, pipeline_rig.env())
    ec2 = AwsCalls(module, ("ec2", None))
    with chalice_client(module, tmp_path) as client:

        @fuzz("build_start", [to_text(edited) for edited in sweep(REQUEST)])
        @given(st.one_of(message_texts(REQUEST), raw_texts("build")))
        def run(message: str) -> None:
            tally("build_start")
            result = client.lambda_.invoke("build_start", sns_event(client, message)).payload
            changes = [name for name, _ in ec2.changes()]
            if is_valid(message):
                assert (result, changes) == ("started", ["CreateTags", "StartInstances"])  # claim, then start
                assert pipeline_rig.state() in ("pending", "running")
                pipeline_rig.stop()
            else:
                assert (result, changes) == ("malformed", [])

        run()
    assert pipeline_rig.state() == "stopped"
    assert_enough("build_start")
