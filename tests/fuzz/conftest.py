"""Fixtures shared by the fuzz modules: the AWS side in moto (built once per test function, reused by every
generated input) and the end-of-run line that says how many inputs each handler ran, with the seed."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.arns import parse_arn
from chalicelib.contracts import BuildRequest, parse_build_request
from chalicelib.request.push_events import BRANCH_PREFIX
from tests.fuzz import harness
from tests.fuzz.mutations import materialize
from tests.lambda_app import PipelineRig, SourceRig, chalice_client, import_app, make_pipeline_rig, make_source_rig


@pytest.fixture
def source_rig(aws) -> SourceRig:
    """The request topic with a queue subscribed (raw delivery), so every publish can be read back."""
    return make_source_rig(aws)


@pytest.fixture
def published_requests(source_rig) -> Callable[[], list[BuildRequest]]:
    """``drain()``: the build requests published since the last call, read with one SQS client (building a
    client per input would cost more than the handler)."""
    sqs = source_rig.session.client("sqs", region_name=parse_arn(source_rig.topic_arn, "sns").region)

    def drain() -> list[BuildRequest]:
        found = []
        while batch := sqs.receive_message(QueueUrl=source_rig.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", []):
            found += [parse_build_request(m["Body"]) for m in batch]
            sqs.delete_message_batch(QueueUrl=source_rig.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return found
    return drain


@pytest.fixture
def pipeline_rig(aws) -> PipelineRig:
    """Topics, build queue and a tagged builder instance (running) in moto."""
    return make_pipeline_rig(aws)


class AwsCalls:
    """Every AWS call the handlers of one app import make, by operation name with its parameters, recorded by
    botocore's own event hook on the handler's clients just before the call goes to moto. Cheaper than
    reading back every resource after each input, and it sees a call even when moto would ignore it."""

    def __init__(self, module: ModuleType, *clients: tuple[str, Optional[str]]) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for service, region in clients:
            module.factory.client(service, region).meta.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """The calls since the last take."""
        calls, self.calls = self.calls, []
        return calls

    def changes(self) -> list[tuple[str, dict[str, Any]]]:
        """The calls since the last take that change something (not Describe/Get/List/Receive)."""
        return [(name, params) for name, params in self.take() if not name.startswith(_READS)]

    def published(self, result: dict[str, Any]) -> list[BuildRequest]:
        """The build requests published since the last take: as many as the handler says it published,
        each one the contract accepts (so the agent will too), and nothing else changed."""
        changes = self.changes()
        assert [name for name, _ in changes] == ["Publish"] * len(result["published"])
        for _, params in changes:  # SNS's Subject rules, which moto does not enforce
            assert len(params["Subject"]) < 100 and all(" " <= c <= "~" for c in params["Subject"])
        return [parse_build_request(params["Message"]) for _, params in changes]


_READS = ("Describe", "Get", "List", "Receive")


@pytest.fixture
def fuzz_source(source_rig, published_requests, monkeypatch, tmp_path) -> Callable[..., None]:
    """``run(function, explicit, events, allowed, source)``: fuzz a request function (BRANCH_FILTER lets every
    branch through, so valid references really publish) with the ``explicit`` events, then generated ones.
    No input may crash it, and every request it publishes must be one the contract accepts, for a
    (ref, commit) in ``allowed(event)``."""
    def run(function: str, explicit: list[Any], events: st.SearchStrategy[Any],
            allowed: Callable[[Any], set[tuple[str, str]]], source: str) -> None:
        module = import_app(monkeypatch, source_rig.env(branch_filter='{"*": ["*"]}'))
        sns = AwsCalls(module, ("sns", parse_arn(source_rig.topic_arn).region))
        with chalice_client(module, tmp_path) as client:

            @harness.fuzz(function, explicit)
            @given(events)
            def one_input(value: Any) -> None:
                harness.tally(function)
                event = materialize(value)  # here, not in the strategy: hypothesis prints Deep(3000), not brackets
                result = client.lambda_.invoke(function, event).payload
                published = sns.published(result)
                for request in published:
                    assert (BRANCH_PREFIX + request.branch, request.commit) in allowed(event)
                    assert request.source == source
                if published:  # each publish reached the subscriber; drained, as a deep queue slows moto down
                    assert len(published_requests()) == len(published)

            one_input()
        harness.assert_enough(function)
    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if harness.COUNTS:
        terminalreporter.write_line(harness.summary())
