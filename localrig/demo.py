"""The demo: the whole pipeline on this machine, four stories narrated as they happen.

Every line is ``[+elapsed] stage  text``; the stage names the AWS part it stands for (see
docs/demo.md). At the end a summary table, the same summary as JSON (its path printed), and
a non-zero exit status if any expectation failed.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from localrig import services, stories
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig, RigError, RigEvent

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
    """Prints each rig event once, with the time since the demo started."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.started = time.time()
        self._lock = threading.Lock()

    def __call__(self, event: RigEvent) -> None:
        with self._lock:
            print(f"[+{event.time - self.started:6.1f}s] {event.stage:<18} {event.text}", file=self.out, flush=True)

    def banner(self, text: str) -> None:
        with self._lock:
            print(f"\n=== {text} " + "=" * max(0, 88 - len(text)), file=self.out, flush=True)


def summary_rows(reports: list[stories.StoryReport]) -> list[list[str]]:
    rows = [["story", "pushes", "builds", "tags in registry", "revision", "builder", "notifications", "result"]]
    for r in reports:
        builds = ", ".join(f"{b['commit'][:7]} {b['outcome']}" for b in r.builds) or "-"
        revisions = ", ".join(f"{r.revision_before[k]}->{r.revision_after.get(k, '?')}" for k in r.revision_before)
        rows.append([r.story, str(len(r.pushes)), f"{len(r.builds)} ({builds})", str(len(r.tags)), revisions,
                     r.builder_state, str(len(r.notifications)), "PASS" if r.passed else "FAIL"])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run_demo(state_dir: Path, out: TextIO = sys.stdout, provisioner: str = "cloudformation") -> int:
    narrator = Narrator(out)
    run_dir = state_dir / "runs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    narrator.banner(f"starting the local rig (state in {run_dir})")
    rig = LocalRig(run_dir, [SAMPLE, HOSTED], docker_dir=state_dir / "docker", on_event=narrator,
                   provisioner=provisioner)
    reports: list[stories.StoryReport] = []
    try:
        rig.start()
        for title, story, spec in STORIES:
            narrator.banner(title)
            report = story(rig, spec)
            reports.append(report)
            for check in report.checks:
                mark = "ok  " if check.ok else "FAIL"
                print(f"  [{mark}] {check.expectation}" + ("" if check.ok else f" (observed: {check.observed})"),
                      file=out, flush=True)
    except (RigError, services.ServiceError) as exc:
        print(f"\ndemo stopped: {exc}", file=out, flush=True)
        return _finish(run_dir, reports, out, error=str(exc))
    except KeyboardInterrupt:
        print("\ndemo interrupted: stopping the rig (moto, registry, Lambda host, builder)", file=out, flush=True)
        _finish(run_dir, reports, out, error="interrupted")
        return 130
    finally:
        stop_shielded(rig)
    return _finish(run_dir, reports, out)


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


def _finish(run_dir: Path, reports: list[stories.StoryReport], out: TextIO, error: str = "") -> int:
    ok = not error and len(reports) == len(STORIES) and all(r.passed for r in reports)
    print("\n" + format_table(summary_rows(reports)) if reports else "\n(no story finished)", file=out)
    summary = {"passed": ok, "error": error or None, "run_dir": str(run_dir),
               "stories": [r.to_dict() for r in reports]}
    path = run_dir / "summary.json"
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2))
    print(f"\nsummary JSON: {path}", file=out)
    print(f"logs: {run_dir} (lambda-journal.jsonl, builder/agent-*.log, slack.jsonl)", file=out)
    print("DEMO PASSED" if ok else "DEMO FAILED", file=out, flush=True)
    return 0 if ok else 1
