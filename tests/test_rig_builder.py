"""The builder instance's "machine": starting it in EC2 boots the agent process, stopping it
ends the process, as systemd and a machine stop would."""

import sys

import pytest

from localrig.builder import BuilderMachine
from localrig.services import wait_until

# Real child processes standing in for `agent run`: one serves until stopped, one ignores
# SIGTERM (a hung build), one exits by itself at once (--exit-when-idle with nothing to do).
SERVES = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
HANGS = [sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "print('ready', flush=True)\nwhile True: time.sleep(1)"]
EXITS = [sys.executable, "-c", "print('nothing to do')"]


@pytest.fixture
def account(aws):
    ec2, sqs = aws.client("ec2"), aws.client("sqs")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    queue = sqs.create_queue(QueueName="build")["QueueUrl"]
    return ec2, sqs, instance, queue


@pytest.fixture
def machine(account, tmp_path):
    made = []

    def make(argv, grace=5.0):
        ec2, sqs, instance, queue = account
        m = BuilderMachine(ec2, sqs, instance, queue, argv, {"PATH": "/usr/bin:/bin"}, tmp_path, grace=grace,
                           poll=0.05).start()
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop()


def test_starting_the_instance_boots_the_agent_and_stopping_it_ends_the_agent(account, machine):
    ec2, _, instance, _ = account
    builder = machine(SERVES)
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is not None, 30, "the agent to boot")
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is None, 30, "the agent to end")
    assert [(b.number, b.ended_by) for b in builder.boots] == [(1, "instance stopped")]
    assert builder.boots[0].exit_code == -15


def test_an_agent_that_ignores_sigterm_is_killed_after_the_grace_period(account, machine):
    ec2, _, instance, _ = account
    builder = machine(HANGS, grace=0.5)
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.boots and "ready" in builder.log_text(), 30, "the agent to be ready")
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is None, 30, "the agent to be killed")
    assert builder.boots[0].ended_by == "instance stopped (SIGKILL after grace)"
    assert builder.boots[0].exit_code == -9


def test_an_agent_that_exited_is_booted_again_while_requests_wait_on_a_running_builder(account, machine):
    ec2, sqs, instance, queue = account
    builder = machine(EXITS)
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.boots and builder.current() is None, 30, "the agent to exit by itself")
    assert len(builder.boots) == 1, "no request waits: the agent is not booted again"
    sqs.send_message(QueueUrl=queue, MessageBody="build")
    wait_until(lambda: len(builder.boots) >= 2, 30, "the agent to be booted again for the waiting request")
    assert builder.boots[0].ended_by == "agent exited"
