"""The agent's message parser (agent.queue.build_queue.plan_round) never crashes and accounts for every message: each
one is either planned for a pipeline it serves or set aside with a reason. Bodies are mutations of a real
build request, raw or in the SNS envelope the build queue receives without raw delivery."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.queue.build_queue import plan_round
from chalicelib.contracts import BuildRequest
from tests.conftest import load_event
from tests.fuzz.harness import assert_enough, fuzz, tally
from tests.fuzz.mutations import message_texts, mutated, raw_texts, sweep, to_text

PIPELINES = ["sample/production", "sample/staging"]
REQUEST = json.loads(BuildRequest("sample", "production", None, "eventbridge", "3f1c9a2e-5b7d-4e8f-a0c1-6d2e9b8f7a33",
                                  "2026-11-26T10:20:00.000000Z").to_json())
ENVELOPE = json.loads(load_event("04b_sqs_event_with_sns_envelope.powertools.json")["Records"][0]["body"])


def in_envelope(message: str) -> st.SearchStrategy[str]:
    """``message`` as SNS wraps it for SQS, the envelope itself mutated too."""
    return mutated({**ENVELOPE, "Message": message}, max_mutations=2).map(to_text)


bodies = st.one_of(message_texts(REQUEST), raw_texts("build"), message_texts(REQUEST).flatmap(in_envelope))


@st.composite
def sqs_messages(draw: Any) -> list[dict[str, Any]]:
    """What SQS returns: SQS writes the ids, handle and attributes; the body is whatever was sent."""
    count = draw(st.integers(1, 4))
    return [{"MessageId": f"m{i}", "ReceiptHandle": f"rh-{i}", "Body": draw(bodies),
             "Attributes": {"ApproximateReceiveCount": str(draw(st.integers(1, 9)))}} for i in range(count)]


def one_message(body: str) -> list[dict[str, Any]]:
    return [{"MessageId": "m0", "ReceiptHandle": "rh-0", "Body": body, "Attributes": {"ApproximateReceiveCount": "1"}}]


def test_plan_round_never_crashes_and_accounts_for_every_message():
    edited = [to_text(request) for request in sweep(REQUEST)]
    envelopes = [json.dumps({**ENVELOPE, "Message": body}) for body in edited]

    @fuzz("agent plan_round", [one_message(body) for body in edited + envelopes])
    @given(sqs_messages())
    def run(messages: list[dict[str, Any]]) -> None:
        tally("agent plan_round")
        logged: list[str] = []
        work = plan_round(messages, PIPELINES, logged.append)
        planned = {item.message_id for items in work.requests.values() for item in items}
        rejected = {item.message_id for item in work.rejected}
        assert planned | rejected == {m["MessageId"] for m in messages}
        assert not planned & rejected
        assert set(work.requests) <= set(PIPELINES)
        assert len(logged) == len(rejected)

    run()
    assert_enough("agent plan_round")
