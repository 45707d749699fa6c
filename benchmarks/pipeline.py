"""Benchmark the whole pipeline on the local rig and print one table of figures (not a test).

    .venv/bin/python benchmarks/pipeline.py [--runs 3] [--only abcde] [--state-dir .rig]

(a) pipeline overhead: push -> service updated, minus the agent's docker build + push time;
(b) builder running time after the last result until the instance is stopped;
(c) builds for K = 1, 5, 20 pushes landing during one build (the builder is frozen at a known
    step while the K pushes land, so they really arrive during that build);
(d) second fetch of a repository with a long history (5,000 commits) vs a fresh clone, through
    the agent's own source module;
(e) cold ``import app`` vs bare ``import boto3``, and the size of the Lambda package that
    ``chalice package`` makes.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localrig import stories  # noqa: E402
from localrig.demo import SAMPLE, format_table  # noqa: E402
from localrig.rig import LocalRig  # noqa: E402

STEP_SECONDS = re.compile(r"\b(build|push) ok \((\d+(?:\.\d+)?)s\)")
Row = list[str]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _poll(check: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    """Poll finely (this measures latency); return the time the condition was first seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(interval)
    raise TimeoutError("condition not reached")


# ---------------------------------------------------------------- (a) and (b)


def one_build(rig: LocalRig, label: str) -> tuple[float, float, float]:
    """Push, time until the service runs a new revision; return (push->updated, build+push, last result->stopped)."""
    before = rig.service_revision(SAMPLE)
    rig.commit(SAMPLE.repository, label, {"www/index.html": f"<p>{label}</p>\n"})
    pushed = time.time()
    rig.push(SAMPLE.repository, SAMPLE.branch)
    updated = _poll(lambda: rig.service_revision(SAMPLE) != before, stories.BUILD_TIMEOUT)
    rig.wait_quiet(stories.BUILD_TIMEOUT)
    docker_seconds = sum(float(m.group(2)) for e in list(rig.events) if e.stage == "builder" and e.time >= pushed
                         for m in [STEP_SECONDS.search(e.text)] if m)
    result_at = max(e.time for e in rig.events if e.stage == "sns" and "build result" in e.text and e.time >= pushed)
    stopped_at = min(e.time for e in rig.events if e.stage == "ec2" and e.text.endswith("running -> stopped")
                     and e.time >= result_at)
    return updated - pushed, docker_seconds, stopped_at - result_at


def bench_overhead(rig: LocalRig, runs: int) -> list[Row]:
    measures = [one_build(rig, f"benchmark run {n}") for n in range(runs)]
    overhead = [total - docker for total, docker, _ in measures]
    totals = [total for total, _, _ in measures]
    docker = [d for _, d, _ in measures]
    after = [a for _, _, a in measures]
    return [
        ["(a) pipeline overhead (push -> service updated, minus docker build+push)",
         f"{_median(overhead):.2f} s (median of {runs}; total {_median(totals):.2f} s, docker {_median(docker):.2f} s)",
         "<= 2 s"],
        ["(b) builder running after the last result until stopped",
         f"{_median(after):.2f} s (median of {runs}; idle grace {rig.idle_grace_seconds} s)", "<= 60 s"],
    ]


# ---------------------------------------------------------------- (c)


def builds_for_k(rig: LocalRig, k: int) -> int:
    since = time.time()
    first = rig.commit(SAMPLE.repository, f"k={k} first", {"www/index.html": f"<p>k={k} first</p>\n"})
    rig.push(SAMPLE.repository, SAMPLE.branch)
    boot = rig.builder.freeze_when(lambda line: first[:7] in line and " ok " in line, stories.BUILD_TIMEOUT)
    try:
        last = first
        for n in range(k):
            last = rig.commit(SAMPLE.repository, f"k={k} push {n}", {"www/index.html": f"<p>k={k} {n}</p>\n"})
            rig.push(SAMPLE.repository, SAMPLE.branch)
    finally:
        rig.builder.thaw(boot)
    rig.wait(lambda: any(r.commit == last for r in rig.build_results(since)), stories.BUILD_TIMEOUT,
             f"the build of {last[:12]}")
    rig.wait_quiet(stories.BUILD_TIMEOUT)
    return len(rig.build_results(since))


def bench_coalescing(rig: LocalRig) -> list[Row]:
    counts = {k: builds_for_k(rig, k) for k in (1, 5, 20)}
    figure = ", ".join(f"K={k}: {n} builds" for k, n in counts.items())
    return [["(c) builds for K pushes during one build", figure, "always 2 builds"]]


# ---------------------------------------------------------------- (d)


def _long_history(path: Path, commits: int) -> None:
    """A bare repository with ``commits`` commits on ``production`` (git fast-import: seconds, not minutes)."""
    subprocess.run(["git", "init", "--bare", "--quiet", str(path)], check=True, timeout=60)
    lines: list[str] = []
    for n in range(commits):
        body = f"change {n}\n" + "x" * 200 + "\n"
        lines += ["commit refs/heads/production", f"mark :{n + 1}",
                  f"committer Bench <bench@example.com> {1700000000 + n} +0000",
                  f"data {len(f'commit {n}')}", f"commit {n}"]
        if n:
            lines.append(f"from :{n}")
        lines += [f"M 100644 inline src/file{n % 100}.txt", f"data {len(body.encode())}", body]
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input="\n".join(lines).encode(),
                   check=True, timeout=600)


def _add_commit(bare: Path, work: Path) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@x")
    if not work.exists():
        subprocess.run(["git", "clone", "--quiet", "--branch", "production", str(bare), str(work)], check=True,
                       timeout=300, env=env)
    (work / "src" / "file0.txt").write_text(f"new {time.time()}\n")
    subprocess.run(["git", "-C", str(work), "commit", "--quiet", "-am", "one more"], check=True, timeout=60, env=env)
    subprocess.run(["git", "-C", str(work), "push", "--quiet", "origin", "HEAD:production"], check=True, timeout=60,
                   env=env)


def bench_fetch(commits: int = 5000, runs: int = 3) -> list[Row]:
    from agent.git.source import GitSource

    with tempfile.TemporaryDirectory(prefix="pushdeploy-fetch-") as tmp:
        root = Path(tmp)
        bare = root / "long.git"
        _long_history(bare, commits)
        fresh, second = [], []
        for n in range(runs):
            source = GitSource(root / f"cache{n}", "long/production", str(bare), "production")
            started = time.perf_counter()
            source.fetch()
            fresh.append(time.perf_counter() - started)
            _add_commit(bare, root / "work")
            started = time.perf_counter()
            source.fetch()
            second.append(time.perf_counter() - started)
    ratio = _median(second) / _median(fresh)
    return [["(d) second fetch vs fresh clone (5,000 commits, agent's GitSource)",
             f"{_median(second) * 1000:.0f} ms vs {_median(fresh) * 1000:.0f} ms = {ratio:.1%}", "<= 10 %"]]


# ---------------------------------------------------------------- (e)

def _package_size() -> str:
    with tempfile.TemporaryDirectory(prefix="pushdeploy-package-") as tmp:
        chalice = Path(sys.executable).with_name("chalice")
        proc = subprocess.run([str(chalice), "package", "--stage", "prod", tmp], cwd=ROOT, capture_output=True,
                              text=True, timeout=900,
                              env=dict(os.environ, AWS_DEFAULT_REGION="us-east-1"))
        archive = Path(tmp) / "deployment.zip"
        if proc.returncode != 0 or not archive.exists():
            reason = (proc.stderr.strip().splitlines() or ["no deployment.zip"])[-1]
            return f"chalice package failed: {reason}"
        return f"{archive.stat().st_size / 1024:.0f} KiB"


def bench_imports(runs: int = 9) -> list[Row]:
    """Reuses benchmarks/import_time.py (the Lambda side's own measure: fresh process per sample)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import import_time

    app_s = _median(import_time.measure("app", import_time.stage_env("prod"), runs))
    boto3_s = _median(import_time.measure("boto3", {}, runs))
    return [
        ["(e) cold import app vs bare import boto3",
         f"{app_s * 1000:.0f} ms vs {boto3_s * 1000:.0f} ms = {app_s / boto3_s:.2f}x (prod stage, median of {runs})",
         "<= 1.3x"],
        ["(e) Lambda package (chalice package --stage prod)", _package_size(), "<= 1 MB"],
    ]


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="abcde", help="which figures, e.g. 'de' (no rig needed for d, e)")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".rig")
    args = parser.parse_args(argv)
    rows: list[Row] = [["measure", "figure", "target"]]
    if set(args.only) & set("abc"):
        run_dir = args.state_dir / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        rig = LocalRig(run_dir, [SAMPLE], docker_dir=args.state_dir / "docker").start()
        try:
            rig.wait_quiet()
            one_build(rig, "warm-up: first build fills the layer cache and the clone")
            if set(args.only) & set("ab"):
                rows += bench_overhead(rig, args.runs)
            if "c" in args.only:
                rows += bench_coalescing(rig)
        finally:
            rig.stop()
    if "d" in args.only:
        rows += bench_fetch(runs=args.runs)
    if "e" in args.only:
        rows += bench_imports()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
