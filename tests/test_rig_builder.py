"""The builder instance's "machine" behaves like an EC2 instance running the agent's systemd unit:
starting the instance boots the agent once, stopping it ends the agent (SIGTERM, then SIGKILL), and
an agent that ends by itself is never started again while the machine runs (Restart=no), whatever
the build queue holds. The unit's stop hook runs after it with the variables systemd gives it."""

import json
import sys
from pathlib import Path

import pytest

from localrig.builder import BuilderMachine, read_environment_file
from localrig.services import wait_until

# Real child processes standing in for `agent run`: one serves until stopped, one ignores SIGTERM (a hung
# build), one exits cleanly at once, one crashes, one exits 4 (it already sent its own crash EndOfRun).
SERVES = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
HANGS = [sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "print('ready', flush=True)\nwhile True: time.sleep(1)"]
EXITS = [sys.executable, "-c", "print('nothing to do')"]
CRASHES = [sys.executable, "-c", "raise SystemExit('agent stopped by an error')"]
SENT_ITS_OWN = [sys.executable, "-c", "raise SystemExit(4)"]
READY = [sys.executable, "-c", "import time\nprint('ready', flush=True)\nwhile True: time.sleep(1)"]
SHOWS_ENV = [sys.executable, "-c", "import os\nkeys = ('PUSHDEPLOY_CLOSE_TOPIC_ARN', 'AWS_DEFAULT_REGION')\n"
             "print('env ' + ' '.join(f'{k}={os.environ.get(k)}' for k in keys), flush=True)"]


def stop_hook(record):
    """Stands in for `pushdeploy-agent end-of-run --if-service-failed`: writes what systemd told it."""
    code = ("import json, os, sys\nkeys = ('SERVICE_RESULT', 'EXIT_CODE', 'EXIT_STATUS')\n"
            "open(sys.argv[1], 'a').write(json.dumps({k: os.environ.get(k) for k in keys}) + '\\n')")
    return [sys.executable, "-c", code, str(record)]


def hook_runs(record):
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


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

    def make(argv, grace=5.0, hook=None, environment_file=None):
        ec2, _, instance, _ = account
        m = BuilderMachine(ec2, instance, argv, {"PATH": "/usr/bin:/bin"}, tmp_path, grace=grace, poll=0.05,
                           stop_hook=hook, environment_file=environment_file).start()
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop()


def watched_twice_more(builder):
    """Wait until the watch has made two full steps, so whatever it would do about the present, it did."""
    seen = builder.steps
    wait_until(lambda: builder.steps >= seen + 2, 30, "two watch steps")


def test_starting_the_instance_boots_the_agent_and_stopping_it_ends_the_agent(account, machine):
    ec2, _, instance, _ = account
    builder = machine(SERVES)
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is not None, 30, "the agent to boot")
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is None, 30, "the agent to end")
    assert [(b.number, b.ended_by) for b in builder.boots] == [(1, "instance stopped")]
    assert builder.boots[0].exit_code == -15


def test_an_agent_that_ignores_sigterm_is_killed_after_the_grace_period_and_the_hook_told_it_timed_out(
        account, machine, tmp_path):
    ec2, _, instance, _ = account
    record = tmp_path / "hook.jsonl"
    builder = machine(HANGS, grace=0.5, hook=stop_hook(record))
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.boots and "ready" in builder.log_text(), 30, "the agent to be ready")
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is None and hook_runs(record), 30, "the agent to be killed")
    assert builder.boots[0].ended_by == "instance stopped (SIGKILL after grace)"
    assert builder.boots[0].exit_code == -9
    assert hook_runs(record) == [{"SERVICE_RESULT": "timeout", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"}]


def test_an_agent_that_exited_cleanly_is_not_booted_again_while_requests_wait(account, machine, tmp_path):
    ec2, sqs, instance, queue = account
    record = tmp_path / "hook.jsonl"
    builder = machine(EXITS, hook=stop_hook(record))
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: hook_runs(record), 30, "the agent to exit and the stop hook to run")
    assert hook_runs(record) == [{"SERVICE_RESULT": "success", "EXIT_CODE": "exited", "EXIT_STATUS": "0"}]

    sqs.send_message(QueueUrl=queue, MessageBody="build")
    watched_twice_more(builder)

    assert len(builder.boots) == 1 and builder.current() is None, "Restart=no: requests wait, nothing serves them"
    assert builder.boots[0].ended_by == "agent exited"


def test_a_crashed_agent_is_not_booted_again_until_the_machine_boots_again(account, machine, tmp_path):
    ec2, sqs, instance, queue = account
    record = tmp_path / "hook.jsonl"
    builder = machine(CRASHES, hook=stop_hook(record))
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: hook_runs(record), 30, "the stop hook after the crash")
    assert hook_runs(record) == [{"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "1"}]

    sqs.send_message(QueueUrl=queue, MessageBody="build")
    watched_twice_more(builder)

    assert len(builder.boots) == 1 and builder.current() is None
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.state == "stopped", 30, "the watch to see the stop")
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: len(builder.boots) == 2, 30, "the next boot of the machine to start the agent")


def test_the_stop_hook_is_told_status_4_when_run_sent_its_own_end_of_run(account, machine, tmp_path):
    ec2, _, instance, _ = account
    record = tmp_path / "hook.jsonl"
    machine(SENT_ITS_OWN, hook=stop_hook(record))
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: hook_runs(record), 30, "the stop hook after exit status 4")
    assert hook_runs(record) == [{"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "4"}]


def test_a_killed_agent_s_stop_hook_is_told_the_signal(account, machine, tmp_path):
    ec2, _, instance, _ = account
    record = tmp_path / "hook.jsonl"
    builder = machine(READY, hook=stop_hook(record))
    ec2.start_instances(InstanceIds=[instance])

    boot = builder.kill_when(lambda line: line == "ready", 30)

    wait_until(lambda: hook_runs(record), 30, "the stop hook after the kill")
    assert hook_runs(record) == [{"SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"}]
    assert (boot.exit_code, boot.ended_by) == (-9, "agent exited")


def test_no_stop_hook_when_the_agent_ends_cleanly_on_an_instance_stop(account, machine, tmp_path):
    ec2, _, instance, _ = account
    record = tmp_path / "hook.jsonl"
    builder = machine(SERVES, hook=stop_hook(record))
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is not None, 30, "the agent to boot")
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.state == "stopped" and builder.current() is None, 30, "the instance stop")
    watched_twice_more(builder)
    assert hook_runs(record) == []


def test_the_agent_gets_the_unit_s_environment_file_read_at_each_boot(account, machine, tmp_path):
    ec2, _, instance, _ = account
    env_file = tmp_path / "agent.env"
    env_file.write_text("# written by the user data\nPUSHDEPLOY_CLOSE_TOPIC_ARN=arn:aws:sns:us-east-1:1:close\n"
                        "AWS_DEFAULT_REGION='us-east-1'\n")
    builder = machine(SHOWS_ENV, environment_file=env_file)
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: "env " in builder.log_text(), 30, "the agent to print its environment")
    assert "env PUSHDEPLOY_CLOSE_TOPIC_ARN=arn:aws:sns:us-east-1:1:close AWS_DEFAULT_REGION=us-east-1" \
        in builder.log_text()


def test_a_missing_environment_file_is_no_error():
    assert read_environment_file(None) == {}
    assert read_environment_file(Path("/nonexistent/agent.env")) == {}


def test_running_time_counts_only_the_spans_the_instance_ran_as_the_watch_saw_them(account, machine):
    """What the pool benchmark sums as builder-seconds: time between entering running and leaving it."""
    ec2, _, instance, _ = account
    builder = machine(SERVES)
    watched_twice_more(builder)
    ec2.start_instances(InstanceIds=[instance])
    wait_until(lambda: builder.current() is not None, 30, "the agent to boot")
    ec2.stop_instances(InstanceIds=[instance])
    wait_until(lambda: builder.state == "stopped", 30, "the watch to see it stopped")
    (ran, _), (left, _) = [t for t in builder.transitions if t[1] == "running"][0], builder.transitions[-1]

    assert [state for _, state in builder.transitions] == ["stopped", "running", "stopped"]
    assert builder.running_seconds() == pytest.approx(left - ran)
    assert builder.running_seconds(until=ran + 0.01) == pytest.approx(0.01)
