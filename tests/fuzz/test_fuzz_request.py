"""The request function (CodeCommit repository trigger) never crashes, and publishes only what it should:
mutations of the real trigger events (AWS's sample, ours with five references, the console's test event)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from chalicelib.request.push_events import TRIGGER_TEST_EVENT
from tests.conftest import load_event
from tests.fuzz.mutations import mutated, sweep

SAMPLES = [load_event(name) for name in ("11_codecommit_trigger_several_refs.pushdeploy-GENERATED.json",
                                         "01_codecommit_trigger_lambda.awsdocs.json",
                                         "14_codecommit_trigger_console_test.pushdeploy-GENERATED.json")]


def pushed(event: Any) -> set[tuple[str, str]]:
    """(ref, commit) of every reference in a record that is not the console's test event."""
    records = event.get("Records") if isinstance(event, dict) else None
    found = set()
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict) or record.get("eventName") == TRIGGER_TEST_EVENT:
            continue
        codecommit = record.get("codecommit")
        references = codecommit.get("references") if isinstance(codecommit, dict) else None
        for reference in references if isinstance(references, list) else []:
            if isinstance(reference, dict) and (reference.get("deleted") is None or reference.get("deleted") is False):
                ref, commit = reference.get("ref"), reference.get("commit")
                if isinstance(ref, str) and isinstance(commit, str):
                    found.add((ref, commit))
    return found


def test_the_trigger_function_never_crashes_and_publishes_only_valid_pushed_references(fuzz_source):
    fuzz_source("request", [edited for sample in SAMPLES for edited in sweep(sample)],
                st.sampled_from(SAMPLES).flatmap(mutated), pushed, "codecommit-trigger")
