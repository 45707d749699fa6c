"""Build history on the rig: how fast `GET /builds` answers with 1,000 builds recorded, and what recording a
build costs the build itself.

    .venv/bin/python benchmarks/history.py [--builds 1000] [--requests 50] [--state-dir .rig]

1. 1,000 builds (as the agent reports them: 7 timed steps, a commit, an image, a service) are recorded in the
   rig's history table by the history function's own code (HistoryTable.record), over 4 pipelines.
2. A real `chalice local --stage local` (LocalRig.start_chalice_local) answers GET /builds (the default page of
   20, all pipelines), GET /builds?pipeline=..., GET /builds/{id} and GET /status, each --requests times.
3. The critical path. The agent's part of history is a clock read and a list append per step (timed here over
   100,000 steps) and a result grown by its steps and build id (published here, with and without them, to the
   rig's close topic, where the Lambda host's history function records each). The write itself happens in the
   history function after SNS delivers: the time from Publish returning to the record being readable is shown
   apart, and is NOT part of the build. A real push is built too: its record's lag after the build finished.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.progress import Progress  # noqa: E402
from agent.queue.results import Publisher  # noqa: E402
from chalicelib.contracts import parse_timestamp  # noqa: E402
from chalicelib.history.record import to_record  # noqa: E402
from chalicelib.history.store import HistoryTable  # noqa: E402
from localrig import stories  # noqa: E402
from localrig.demo import SAMPLE  # noqa: E402
from localrig.rig import LocalRig  # noqa: E402
from tests.history_rig import result  # noqa: E402

TARGET_MEDIAN_MS = 50.0
PIPELINES = ("sample/production", "other/production", "octo/app/main", "octo/api/main")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def line(label: str, ms: list[float]) -> str:
    return (f"  {label:52s} median {statistics.median(ms):7.2f} ms  p90 {percentile(ms, 0.9):7.2f} ms  "
            f"min {min(ms):7.2f}  max {max(ms):7.2f}  (n={len(ms)})")


def fill(table: HistoryTable, builds: int) -> tuple[float, str]:
    """Record ``builds`` results; (seconds it took, one build id)."""
    started = time.perf_counter()
    some_id = ""
    for n in range(builds):
        record = to_record(result(n, PIPELINES[n % len(PIPELINES)]))
        table.record(record)
        some_id = record["build_id"]
    return time.perf_counter() - started, some_id


def get_ms(url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            json.loads(response.read())
            assert response.status == 200
        times.append((time.perf_counter() - began) * 1000)
    return times


def call_ms(call: Callable[[], object], count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def step_overhead_us(steps: int = 100_000) -> float:
    """Microseconds per recorded step: what Progress.timed adds to each step of a build."""
    progress = Progress(out=lambda _line: None)
    with progress.recording_steps():
        began = time.perf_counter()
        for _ in range(steps):
            with progress.timed("build"):
                pass
        took = time.perf_counter() - began
    return took / steps * 1e6


def publish_series(rig: LocalRig, table: HistoryTable, count: int) -> dict[str, list[float]]:
    """Publish results to the close topic with and without history's fields; also when each got recorded."""
    publisher = Publisher(rig.client("sns"), rig.outputs["CLOSE_TOPIC_ARN"])
    with_steps, without_steps, lag = [], [], []
    for n in range(count):
        full = result(5000 + n)
        bare = replace(result(6000 + n), steps=(), build_id=None)
        for message, into in ((full, with_steps), (bare, without_steps)):
            began = time.perf_counter()
            publisher.publish(message)
            into.append((time.perf_counter() - began) * 1000)
        published, build_id = time.perf_counter(), full.build_id or ""
        wait_for(lambda: table.build(build_id) is not None, 30)  # noqa: B023 - called before the loop moves on
        lag.append((time.perf_counter() - published) * 1000)
    return {"publish a result with build_id and 7 steps": with_steps,
            "publish the same result without them": without_steps,
            "publish returned -> record readable (async)": lag}


def wait_for(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("not recorded in time")
        time.sleep(0.005)


def real_push(rig: LocalRig, table: HistoryTable) -> str:
    report = stories.one_push(rig, SAMPLE, "history benchmark")
    [built] = rig.build_results()[-1:]
    wait_for(lambda: table.build(built.build_id or "") is not None, 60)
    record = table.build(built.build_id or "") or {}
    lag = (parse_timestamp(record["recorded_at"]) - parse_timestamp(built.finished_at)).total_seconds() * 1000
    steps = ", ".join(f"{s.name} {s.seconds:.2f}s" for s in built.steps)
    return (f"  real push ({'passed' if report.passed else 'FAILED'}): {built.outcome}, steps: {steps}\n"
            f"  its record was written {lag:.0f} ms after the build finished, by the history function, "
            "while the agent went on (publish had returned)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".rig")
    args = parser.parse_args(argv)
    run_dir = args.state_dir.resolve() / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-history")
    rig = LocalRig(run_dir, [SAMPLE], docker_dir=args.state_dir.resolve() / "docker").start()
    try:
        table = HistoryTable(rig.client("dynamodb"), rig.outputs["BUILD_HISTORY_TABLE"])
        fill_seconds, some_id = fill(table, args.builds)
        url = rig.start_chalice_local().rstrip("/")
        get_ms(f"{url}/builds", 1)  # the first request imports the app's route modules
        gets = {f"GET /builds (page of 20 of {args.builds}, all pipelines)": get_ms(f"{url}/builds", args.requests),
                "GET /builds?pipeline=sample/production&limit=20": get_ms(
                    f"{url}/builds?pipeline={quote('sample/production', safe='')}&limit=20", args.requests),
                "GET /builds?limit=100": get_ms(f"{url}/builds?limit=100", args.requests),
                "GET /builds/{build_id}": get_ms(f"{url}/builds/{some_id}", args.requests),
                "GET /status (1 service, live ECS)": get_ms(f"{url}/status", args.requests),
                "the same Query straight to moto (no chalice local)": call_ms(lambda: table.builds(None, 20),
                                                                              args.requests)}
        publishes = publish_series(rig, table, args.requests)
        overhead = step_overhead_us()
        push = real_push(rig, table)
    finally:
        rig.stop()
    print(f"build history on the rig: {args.builds} builds recorded in {fill_seconds:.1f} s; "
          f"chalice local --stage local at {url}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for label, ms in gets.items():
        print(line(label, ms))
    median_ms = statistics.median(next(iter(gets.values())))
    print(f"  target: GET /builds median <= {TARGET_MEDIAN_MS:.0f} ms -> "
          f"{'met' if median_ms <= TARGET_MEDIAN_MS else 'MISSED'} ({median_ms:.1f} ms)")
    print("the build's critical path:")
    print(f"  recording a step's timing in the agent: {overhead:.2f} us per step (7 steps a build)")
    for label, ms in publishes.items():
        print(line(label, ms))
    added = statistics.median(publishes["publish a result with build_id and 7 steps"]) - statistics.median(
        publishes["publish the same result without them"])
    print(f"  history's fields add {added:+.2f} ms (median) to the one publish the agent waits for; the write "
          "(last row) happens after it, in the history function")
    print(push)
    return 0


if __name__ == "__main__":
    sys.exit(main())
