"""The request_events function (EventBridge "CodeCommit Repository State Change") never crashes, and
publishes only a created or updated branch that the event names: mutations of the real events."""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import strategies as st

from chalicelib.request.push_events import STATE_CHANGE_EVENTS
from tests.conftest import load_event
from tests.fuzz.mutations import mutated, sweep

SAMPLES = [load_event(name) for name in ("12_eventbridge_codecommit_referenceUpdated_push.pushdeploy-GENERATED.json",
                                         "13_eventbridge_codecommit_referenceCreated_tag.pushdeploy-GENERATED.json",
                                         "02_eventbridge_codecommit_referenceUpdated.awsdocs.json",
                                         "02c_eventbridge_codecommit_referenceDeleted.awsdocs.json")]


ENVELOPE = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def delivered(sample: dict[str, Any], value: Any) -> dict[str, Any]:
    """A mutation of ``sample`` as EventBridge can deliver it: its envelope keys are always there (Chalice's
    CloudWatchEvent reads them before our code runs), every value and the whole detail may be anything."""
    event = value if isinstance(value, dict) else {"detail": value}
    return {**{key: sample[key] for key in ENVELOPE if key not in event}, **event}


def pushed(event: Any) -> set[tuple[str, str]]:
    """The (ref, commit) a state-change event may build: its one reference, when created or updated."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or detail.get("event") not in STATE_CHANGE_EVENTS:
        return set()
    ref, commit = detail.get("referenceFullName"), detail.get("commitId")
    return {(ref, commit)} if isinstance(ref, str) and isinstance(commit, str) else set()


def test_the_state_change_function_never_crashes_and_publishes_only_the_named_branch(fuzz_source):
    fuzz_source("request_events", [delivered(sample, edited) for sample in SAMPLES for edited in sweep(sample)],
                st.sampled_from(SAMPLES).flatmap(lambda sample: mutated(sample).map(partial(delivered, sample))),
                pushed, "eventbridge")
