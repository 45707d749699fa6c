"""Where a builder-pool benchmark run's time went: a per-builder timeline from the run's ``events.jsonl``
(written by ``benchmarks/builder_pool.py``; not a test).

    .venv/bin/python benchmarks/pool_timeline.py RUN_DIR [--events]

Times are seconds after the pushes began. Per builder: when its instance entered running, when its agent
started, its first receive (round), each build (start to result published), the messages it released for
others, the rounds that kept a second group (a message at maxReceiveCount), its EndOfRun messages and when it
was stopped; busy (sum of its builds), gaps (between one result and the next build) and tail (from its last
result to the run's last). Last, the ideal: the first request plus every build's seconds spread evenly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LANE = re.compile(r"^(?P<part>builder|ec2)(#(?P<index>\d+))?$")  # a pool of one: no "#1"
BUILD_STARTED = re.compile(r"^build (?P<pipeline>\S+) started")
RESULT = re.compile(r"^result published: (?P<pipeline>\S+) ")
RELEASED = re.compile(r"^queue: released (?P<count>\d+) message")
STATE = re.compile(r"-> (?P<state>[a-z-]+)$")


@dataclass
class Builder:
    index: int
    states: list[tuple[float, str]] = field(default_factory=list)
    agent_started: list[float] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)
    builds: list[tuple[str, float, float]] = field(default_factory=list)  # (pipeline, started, published)
    released: int = 0
    kept_extra: int = 0
    end_of_runs: list[float] = field(default_factory=list)
    _open: dict[str, float] = field(default_factory=dict)

    def line(self, at: float, text: str) -> None:
        if text.startswith("round "):
            self.rounds.append(at)
        elif match := BUILD_STARTED.match(text):
            self._open[match["pipeline"]] = at
        elif match := RESULT.match(text):
            self.builds.append((match["pipeline"], self._open.pop(match["pipeline"], at), at))
        elif match := RELEASED.match(text):
            self.released += int(match["count"])
        elif text.startswith("queue: also serving"):
            self.kept_extra += 1
        elif text.startswith("end-of-run published"):
            self.end_of_runs.append(at)

    def ec2(self, at: float, text: str, data: dict[str, Any]) -> None:
        if "agent run started" in text:
            self.agent_started.append(at)
        elif match := STATE.search(text):
            self.states.append((at, match["state"]))

    def first(self, state: str) -> float | None:
        return next((at for at, s in self.states if s == state), None)

    def stopped(self) -> float | None:
        return next((at for at, s in reversed(self.states) if s == "stopped"), None)


def read(run_dir: Path) -> tuple[float, list[dict[str, Any]]]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    began = json.loads(lines[0])["began"]
    return began, [json.loads(line) for line in lines[1:]]


def builders(began: float, events: list[dict[str, Any]]) -> dict[int, Builder]:
    pool: dict[int, Builder] = {}
    for event in events:
        match = LANE.match(event["stage"])
        if not match or event["time"] < began - 30:
            continue
        index = int(match["index"] or 1)
        builder = pool.setdefault(index, Builder(index))
        at = event["time"] - began
        if match["part"] == "builder":
            builder.line(at, event["text"])
        else:
            builder.ec2(at, event["text"], event["data"])
    return dict(sorted(pool.items()))


def requests(began: float, events: list[dict[str, Any]]) -> list[float]:
    """When each push's request function was invoked (the push reached "AWS")."""
    return sorted(e["time"] - began for e in events if e["time"] >= began and e["stage"].endswith("request")
                  and e["text"].startswith("invoked by"))


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:6.1f}"


def report(began: float, events: list[dict[str, Any]], show_builds: bool = True) -> str:
    pool = builders(began, events)
    arrivals = requests(began, events)
    last = max((b[2] for builder in pool.values() for b in builder.builds), default=0.0)
    out = []
    if arrivals:
        out.append(f"pushes: {len(arrivals)} requests invoked from {arrivals[0]:.1f} to {arrivals[-1]:.1f} s "
                   f"(4th at {arrivals[min(3, len(arrivals) - 1)]:.1f} s)")
    out.append(f"makespan (last result): {last:.1f} s")
    out.append("builder  running  agent  1st-round  builds  busy   gaps   tail  released kept-2nd  EoR  stopped")
    busy_total = 0.0
    for builder in pool.values():
        busy = sum(end - start for _, start, end in builder.builds)
        busy_total += busy
        out.append(_row(builder, busy, last))
        if show_builds:
            out.append("         builds: " + ", ".join(f"{p.split('/')[0]} {s:.1f}-{e:.1f}"
                                                     for p, s, e in builder.builds))
    count = sum(len(b.builds) for b in pool.values())
    if count and pool:
        mean = busy_total / count
        out.append(f"builds: {count}, mean {mean:.2f} s (start to result published); ideal with {len(pool)} builder(s) "
                   f"from the first request: {(arrivals[0] if arrivals else 0) + busy_total / len(pool):.1f} s")
    return "\n".join(out)


def _row(builder: Builder, busy: float, last: float) -> str:
    first = [builder.first("running"), builder.agent_started[0] if builder.agent_started else None,
             builder.rounds[0] if builder.rounds else None]
    tail = last - builder.builds[-1][2] if builder.builds else None
    return (f"{builder.index:>7}  {fmt(first[0])} {fmt(first[1])}  {fmt(first[2])}     {len(builder.builds):>4}  "
            f"{busy:5.1f}  {_gaps(builder):5.1f}  {fmt(tail)}  {builder.released:>8} {builder.kept_extra:>8}  "
            f"{len(builder.end_of_runs):>3}  {fmt(builder.stopped())}")


def _gaps(builder: Builder) -> float:
    """Seconds between one build's result and the next build's start (receive, release, plan)."""
    return sum(max(0.0, nxt[1] - prev[2]) for prev, nxt in zip(builder.builds, builder.builds[1:], strict=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="+")
    parser.add_argument("--no-builds", action="store_true", help="leave out each builder's list of builds")
    args = parser.parse_args(argv)
    for run_dir in args.run_dir:
        print(f"== {run_dir}")
        if not (run_dir / "events.jsonl").exists():
            print("no events.jsonl (the run did not finish)")
            continue
        began, events = read(run_dir)
        print(report(began, events, not args.no_builds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
