"""The build log goes to CloudWatch Logs as it comes, within PutLogEvents' documented limits, and a line
longer than an event allows is split with a visible marker instead of being refused or cut."""

from __future__ import annotations

import time

import pytest

from agent import buildlog
from agent.buildlog import BuildLog, event_cost

GROUP = "/pushdeploy/builds"
STREAM = "sample/production/20261129120000-abcdef0"


class Clock:
    """Wall time that a test moves by hand (CloudWatch refuses events over 2 hours in the future)."""

    def __init__(self) -> None:
        self.now = time.time() - 3600

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logs(aws):
    client = aws.client("logs")
    sent: list[list[dict]] = []  # what each real PutLogEvents call carried, read as the request leaves
    client.meta.events.register("provide-client-params.logs.PutLogEvents",
                                lambda params, **_: sent.append(list(params["logEvents"])))
    return client, sent


def stored(client) -> list[str]:
    messages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = client.get_log_events(logGroupName=GROUP, logStreamName=STREAM, startFromHead=True, **kwargs)
        messages += [e["message"] for e in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


def test_a_line_over_256_kb_in_bytes_is_split_into_marked_events(logs):
    client, sent = logs
    log = BuildLog(client, GROUP, warn=pytest.fail)
    log.open(STREAM)
    line = "é" * 200_000  # 200,000 characters, 400,000 bytes: under a character limit, over the byte limit

    log.write(line)
    log.flush()

    events = [e for batch in sent for e in batch]
    assert all(event_cost(e["message"]) <= buildlog.MAX_EVENT_BYTES for e in events)
    messages = stored(client)
    assert [m.split("] ", 1)[0] for m in messages] == ["[part 1/2 of a 400000-byte line",
                                                       "[part 2/2 of a 400000-byte line"]
    assert "".join(m.split("] ", 1)[1] for m in messages) == line  # nothing lost


def test_a_loud_build_is_sent_while_it_runs_in_batches_within_the_limits(logs):
    client, sent = logs
    clock = Clock()
    log = BuildLog(client, GROUP, warn=pytest.fail, clock=clock)
    log.open(STREAM)

    for n in range(30_000):
        log.write(f"{n:06d} " + "x" * 100)
        clock.now += 0.01
        assert log.buffered_bytes() <= buildlog.MAX_BATCH_BYTES  # never the whole output in memory

    assert len(stored(client)) > 20_000  # already in CloudWatch before the build ends
    log.flush()
    assert [m[:6] for m in stored(client)] == [f"{n:06d}" for n in range(30_000)]
    for batch in sent:
        assert len(batch) <= buildlog.MAX_BATCH_EVENTS
        assert sum(event_cost(e["message"]) for e in batch) <= buildlog.MAX_BATCH_BYTES
        assert batch[-1]["timestamp"] - batch[0]["timestamp"] <= buildlog.MAX_BATCH_SPAN_MS


def test_a_quiet_build_s_lines_show_up_within_seconds(logs):
    client, _ = logs
    clock = Clock()
    log = BuildLog(client, GROUP, warn=pytest.fail, clock=clock)
    log.open(STREAM)

    log.write("Step 1/4 : FROM local/busybox:latest")
    clock.now += 30
    log.write("Step 2/4 : RUN ./long-test-suite")

    assert stored(client) == ["Step 1/4 : FROM local/busybox:latest", "Step 2/4 : RUN ./long-test-suite"]


def test_a_clock_stepping_back_does_not_lose_the_log(logs):
    client, _ = logs
    clock = Clock()
    warnings: list[str] = []
    log = BuildLog(client, GROUP, warn=warnings.append, clock=clock)
    log.open(STREAM)

    log.write("before the NTP correction")
    clock.now -= 5
    log.write("after the NTP correction")
    log.flush()

    assert warnings == []
    assert stored(client) == ["before the NTP correction", "after the NTP correction"]


def test_a_stream_that_cannot_be_written_drops_later_lines_instead_of_holding_them(logs):
    client, _ = logs
    warnings: list[str] = []
    log = BuildLog(client, GROUP, warn=warnings.append)
    log.open(STREAM)
    client.delete_log_group(logGroupName=GROUP)  # e.g. removed by hand mid-build

    for n in range(5_000):
        log.write(f"line {n} " + "y" * 200)

    assert len(warnings) == 1 and "the build goes on without its log" in warnings[0]
    assert log.buffered_bytes() == 0 and log.location() is None


def test_lines_before_the_stream_is_named_are_bounded_and_the_drop_is_said(logs):
    client, _ = logs
    log = BuildLog(client, GROUP, warn=pytest.fail)

    for n in range(20_000):
        log.write(f"git output {n} " + "z" * 100)
    assert log.buffered_bytes() <= buildlog.MAX_BATCH_BYTES
    log.open(STREAM)
    log.flush()

    messages = stored(client)
    assert messages[0] == "git output 0 " + "z" * 100
    assert messages[-1].startswith("[build log: ")
    assert messages[-1].endswith(" lines dropped before the stream was opened]")
