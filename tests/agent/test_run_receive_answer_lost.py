"""A push whose receive answer is lost on the way back still deploys in the same run. SQS carried the receive out,
so the message and its whole pipeline's message group are in flight; botocore retries the receive, and with the
round's ReceiveRequestAttemptId SQS answers the retry with the same messages. Without it the retry finds nothing,
the builder ends its run idle and the push waits out the visibility timeout, with a receive counted against the
dead-letter limit. The lost answer is the rig's fault switch (localrig/aws/faults.py); moto honours the attempt id
as SQS does (localrig/aws/sqs_receive.py)."""

from __future__ import annotations

import uuid

import boto3
import pytest

from agent.runner import Runner
from chalicelib.contracts import BuildResult, EndOfRun
from localrig.aws.faults import FaultSwitch
from tests.agent.agentrig import agent_context, docker_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def faulty_aws(faulty_moto, monkeypatch) -> tuple[boto3.Session, FaultSwitch]:
    server, switch = faulty_moto
    server.reset()
    switch.clear()
    for key, value in server.client_env().items():
        monkeypatch.setenv(key, value)
    return boto3.Session(region_name=server.region), switch


def test_a_push_whose_receive_answer_was_lost_deploys_in_the_same_run(faulty_aws, docker_engine, base_image,
                                                                      registry, tmp_path, monkeypatch):
    session, switch = faulty_aws
    _, world, config = docker_pipeline(session, docker_engine, base_image, registry.address, tmp_path, monkeypatch,
                                       fifo=True)
    world.send()
    switch.set(sqs_receive_answer_lost=uuid.uuid4().hex)
    lines: list[str] = []

    Runner(agent_context(config, lines)).run(exit_when_idle=True)

    results = world.close_messages()
    assert [type(m) for m in results] == [BuildResult, EndOfRun], "\n".join(lines)
    assert results[0].outcome == "succeeded", results[0].error
    assert world.service_task_definition()["taskDefinitionArn"] != world.initial_revision
