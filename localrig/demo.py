"""The demo: the whole pipeline on this machine, four stories narrated as they happen.

Every line is ``[+elapsed] stage  text``; the stage names the AWS part it stands for (see
docs/demo.md). At the end a summary table, the same summary as JSON (its path printed), and
a non-zero exit status if any expectation failed.
"""

from __future__ import annotations

import heapq
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from selenium.common.exceptions import WebDriverException

from localrig import chromium, dashboard_shot, services, stories, timeline
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig, RigError, RigEvent
from localrig.timeline import GIT_HOSTS

SAMPLE = PipelineSpec(repository="sample", branch="production", image_repository="production/sample",
                      cluster="production-cluster", service="web", family="production-task", container="web")
# Story 4's repository lives on a hosted provider (owner/name, as GitHub names it), deployed to its own service.
HOSTED = PipelineSpec(repository="octo/sample", branch="production", image_repository="production/octo-sample",
                      cluster="production-cluster", service="octo-web", family="octo-task", container="web")


STORIES = (
    ("story 1: push one commit", stories.one_push, SAMPLE),
    ("story 2: push three commits in quick succession while a build runs", stories.pushes_during_a_build, SAMPLE),
    ("story 3: push a commit whose build fails", stories.failing_build, SAMPLE),
    ("story 4: push to GitHub; its signed webhook reaches chalice local, the build fetches with a token",
     stories.webhook_push, HOSTED),
)


class Narrator:
    """Prints each rig event once, stamped with when it happened (since the demo started), in that order.

    Events reach the rig late and out of order: the Lambda host's journal and the agent's log are read every
    0.1 s, a push is recorded when ``git push`` returns (after its hook has fired), SNS deliveries follow
    their Publish. So lines wait ``window`` seconds in a buffer and leave it in happened order: a live
    narration, a second behind, instead of one printed per story when it settles (which would leave the
    screen still for the whole of a build). ``flush()`` prints everything buffered (before a story's checks,
    at the end); ``lateness`` is the most an event arrived after it happened, to check the window against.
    A push is the one event later than that (a `git push` takes a second or two, its hook's Lambda invocation
    arriving meanwhile), so ``hold`` (the rig's ``in_flight_since``) keeps back what came after a push's start
    until the push's own event is in.
    """

    def __init__(self, out: TextIO = sys.stdout, window: float = 1.0,
                 hold: Callable[[], float | None] | None = None) -> None:
        self.out = out
        self.window = window
        self.hold = hold
        self.started = time.time()
        self.lateness = 0.0
        self.printed_late = 0  # arrived after a later event was already printed (lateness over the window)
        self._last_printed = -math.inf
        self._buffer: list[tuple[float, int, RigEvent]] = []
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="narrator", daemon=True)
        self._ticker.start()

    def __call__(self, event: RigEvent) -> None:
        with self._lock:
            self.lateness = max(self.lateness, (event.seen or event.time) - event.time)
            self._count += 1
            heapq.heappush(self._buffer, (event.time, self._count, event))

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            held = self.hold() if self.hold is not None else None
            self.flush(min(time.time() - self.window, math.inf if held is None else held - 0.001))

    def flush(self, until: float = math.inf) -> None:
        with self._lock:
            while self._buffer and self._buffer[0][0] <= until:
                self._print(heapq.heappop(self._buffer)[2])

    def _print(self, event: RigEvent) -> None:
        if event.time < self._last_printed:
            self.printed_late += 1
        self._last_printed = max(self._last_printed, event.time)
        print(f"[+{event.time - self.started:6.1f}s] {event.stage:<18} {event.text}", file=self.out, flush=True)
        message = event.data.get("message") if event.stage == "slack" else None
        for line in (message or "").splitlines()[1:]:
            print(f"{'':29}| {line}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        """A line of the demo's own (a check's outcome), after every event so far."""
        self.flush()
        with self._lock:
            print(text, file=self.out, flush=True)

    def banner(self, text: str) -> None:
        self.flush()
        with self._lock:
            print(f"\n=== {text} " + "=" * max(0, 88 - len(text)), file=self.out, flush=True)

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
        self.flush()


def summary_rows(reports: list[stories.StoryReport], happened: Sequence[str] = ()) -> list[list[str]]:
    """``happened``: each story's ``what_happened``, read from its events."""
    rows = [["story", "what happened", "builds", "tags in registry", "revision", "builder", "notifications",
             "result"]]
    for n, r in enumerate(reports):
        builds = ", ".join(f"{b['commit'][:7]} {b['outcome']}" for b in r.builds) or "-"
        revisions = ", ".join(f"{r.revision_before[k]}->{r.revision_after.get(k, '?')}" for k in r.revision_before)
        story = happened[n] if n < len(happened) else _plural(len(r.pushes), "push")
        rows.append([r.story, story, f"{len(r.builds)} ({builds})", str(len(r.tags)), revisions,
                     r.builder_state, str(len(r.notifications)), "PASS" if r.passed else "FAIL"])
    return rows


def what_happened(events: Sequence[RigEvent]) -> str:
    """A story's pushes and builds as a person tells them, from its events' own times: pushes that landed
    after the first build began and before its result are "during a build"; each further result is one
    more build (``3 pushes during a build, then 1 more build``)."""
    pushes = sorted(e.time for e in events if e.stage in GIT_HOSTS and e.text.startswith("pushed "))
    results = sorted(e.time for e in events if e.stage == "sns" and e.data.get("outcome"))
    if not pushes or not results:
        return f"{_plural(len(pushes), 'push')}, {_plural(len(results), 'build')}"
    began = min((e.time for e in events if e.stage == "builder" and pushes[0] < e.time < results[0]),
                default=results[0])
    during = [t for t in pushes[1:] if began <= t < results[0]]
    if not during:
        return f"{_plural(len(pushes), 'push')}, {_plural(len(results), 'build')}"
    more = len(results) - 1
    return f"{_plural(len(during), 'push')} during a build, then {more} more build{'' if more == 1 else 's'}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "es" if noun.endswith("sh") else "s")


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class _Story:
    """One story's report and when it ran (its banner to its checks): its events and its mark on the timeline."""

    report: stories.StoryReport
    title: str
    began: float
    ended: float


def run_demo(state_dir: Path, out: TextIO = sys.stdout, provisioner: str = "cloudformation",
             engine: services.DockerEngine | None = None, stories_to_run: Sequence[Any] = STORIES) -> int:
    """``engine`` and ``stories_to_run``: a test's session engine and a shorter run (the demo runs all four)."""
    narrator = Narrator(out)
    run_dir = state_dir / "runs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    narrator.banner(f"starting the local rig (state in {run_dir})")
    rig = LocalRig(run_dir, [SAMPLE, HOSTED], docker_dir=state_dir / "docker", engine=engine, on_event=narrator,
                   provisioner=provisioner)
    narrator.hold = rig.in_flight_since
    done: list[_Story] = []
    shown: Shown | None = None
    error = ""
    try:
        rig.start()
        for title, story, spec in stories_to_run:
            narrator.banner(title)
            began = time.time()
            report = story(rig, spec)
            done.append(_Story(report, title, began, time.time()))
            for check in report.checks:
                mark = "ok  " if check.ok else "FAIL"
                narrator.say(f"  [{mark}] {check.expectation}" + ("" if check.ok else f" (observed: {check.observed})"))
        shown = show_dashboard(rig, run_dir, narrator)
    except (RigError, services.ServiceError) as exc:
        narrator.say(f"\ndemo stopped: {exc}")
        error = str(exc)
    except KeyboardInterrupt:
        narrator.say("\ndemo interrupted: stopping the rig (moto, registry, Lambda host, builder)")
        error = "interrupted"
    finally:
        stop_shielded(rig)
        narrator.close()
    status = _finish(run_dir, done, list(rig.events), out, error=error, narrated=narrator,
                     expected=len(stories_to_run), dashboard=shown)
    return 130 if error == "interrupted" else status


@dataclass
class Shown:
    """The dashboard as the demo saw it: its URL, its picture, and the check that it lists every build."""

    url: str
    picture: Path
    check: stories.Check


def show_dashboard(rig: LocalRig, run_dir: Path, narrator: Narrator) -> Shown | None:
    """The stories' builds on the dashboard (`GET /dashboard` under `chalice local`), pictured in headless
    Chromium; None (said in one line) when Chromium is not installed, which leaves the demo passing."""
    why = chromium.missing()
    if why:
        narrator.say(f"\ndashboard picture skipped: {why}")
        return None
    narrator.banner("the dashboard: GET /dashboard under chalice local, in headless Chromium")
    url = rig.chalice_local.url if rig.chalice_local is not None else rig.start_chalice_local()
    results, picture = rig.build_results(), run_dir / "dashboard.png"
    expectation = f"the dashboard lists the {_plural(len(results), 'build')} the stories made, each with its step bars"
    try:
        seen = dashboard_shot.capture(url, results, picture)
    except WebDriverException as exc:
        check = stories.Check(expectation, False, f"Chromium failed: {exc.msg}")
    else:
        check = stories.Check(expectation, seen.listed == seen.wanted,
                              f"{seen.listed} of {seen.wanted} listed with their step bars")
    narrator.say(f"  [{'ok  ' if check.ok else 'FAIL'}] {check.expectation}"
                 + ("" if check.ok else f" (observed: {check.observed})"))
    return Shown(f"{url}/dashboard", picture, check)


def stop_shielded(rig: LocalRig) -> None:
    """Stop the rig with Ctrl-C ignored meanwhile: a second Ctrl-C during the stop would leave its
    child processes (moto, registry, dockerd, the agent) running after the demo has exited."""
    if threading.current_thread() is not threading.main_thread():
        rig.stop()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rig.stop()
    finally:
        signal.signal(signal.SIGINT, previous)


def _finish(run_dir: Path, done: list[_Story], events: list[RigEvent], out: TextIO, error: str = "",
            narrated: Narrator | None = None, expected: int = len(STORIES), dashboard: Shown | None = None) -> int:
    reports = [d.report for d in done]
    happened = [what_happened([e for e in events if d.began <= e.time <= d.ended]) for d in done]
    ok = (not error and len(reports) == expected and all(r.passed for r in reports)
          and (dashboard is None or dashboard.check.ok))
    print("\n" + format_table(summary_rows(reports, happened)) if reports else "\n(no story finished)", file=out)
    lateness, late = (narrated.lateness, narrated.printed_late) if narrated is not None else (0.0, 0)
    summary = {"passed": ok, "error": error or None, "run_dir": str(run_dir), "events": len(events),
               "narration": {"most_late_seconds": round(lateness, 3), "printed_out_of_order": late},
               "stories": [dict(r.to_dict(), what_happened=h) for r, h in zip(reports, happened, strict=True)],
               "dashboard": None if dashboard is None else {"url": dashboard.url, "picture": str(dashboard.picture),
                                                            "ok": dashboard.check.ok,
                                                            "observed": dashboard.check.observed}}
    path = run_dir / "summary.json"
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2))
    picture = write_timeline(run_dir, events, done)
    print(f"\nsummary JSON: {path}", file=out)
    print(f"timeline: {picture} ({len(events)} events, each at the time its own record gives)", file=out)
    if dashboard is not None:
        print(f"dashboard: {dashboard.picture} ({dashboard.check.observed})", file=out)
        print(f"dashboard URL (served by chalice local while the rig ran): {dashboard.url}", file=out)
    print(f"narration: events printed in that order ({late} out of order); the latest reached it "
          f"{lateness:.1f}s after it happened", file=out)
    print(f"logs: {run_dir} (lambda-journal.jsonl, builder/agent-*.log, slack.jsonl)", file=out)
    print("DEMO PASSED" if ok else "DEMO FAILED", file=out, flush=True)
    return 0 if ok else 1


def write_timeline(run_dir: Path, events: Sequence[RigEvent], done: Sequence[_Story]) -> Path:
    """``timeline.svg`` next to summary.json: every event of the run, a mark where each story began; the events
    themselves in ``events.jsonl`` (happened order), to draw again or to read with other tools."""
    marks = [timeline.Mark(d.began, d.title.split(":", 1)[0]) for d in done]
    with open(run_dir / "events.jsonl", "w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps({"time": event.time, "seen": event.seen, "stage": event.stage, "text": event.text,
                                  "data": event.data}, default=str) + "\n")
    path = run_dir / "timeline.svg"
    path.write_text(timeline.render(events, marks, title=f"pushdeploy demo {run_dir.name}"), encoding="utf-8")
    return path
