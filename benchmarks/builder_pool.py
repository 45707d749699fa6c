"""Benchmark the builder pool on the local rig: 20 pipelines, one push each, on 1, 2 and 4 builders (not a test).

    .venv/bin/python benchmarks/builder_pool.py [--pipelines 20] [--builders 1,2,4] [--build-seconds 3]
                                                [--state-dir .rig]

Each pool size gets a fresh rig (moto, registry, Lambda host; N builders, each its own agent and, for N > 1,
its own Docker engine). Every pipeline's sample Dockerfile waits ``--build-seconds`` in its RUN step (the
``build_seconds`` build arg), so that this 2-core machine measures orchestration rather than CPU contention.
The 20 pushes land at once (one thread each, as a release merged across twenty repositories), then:

- makespan: from the first push until the last pipeline's build result (every pipeline deployed);
- speedup: makespan with 1 builder / makespan with N;
- builder-seconds per push: every builder's pending + running time from the first push until the pool is
  stopped again (idle grace and EndOfRun included), summed, divided by the pushes.

Each run's rig events go to ``events.jsonl`` in its directory (``--state-dir``/bench-pool/<time>-n<N>); the
command printed after the run, ``benchmarks/pool_timeline.py``, reads it into a timeline per builder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.contracts import parse_timestamp  # noqa: E402
from localrig.demo import format_table  # noqa: E402
from localrig.provision import PipelineSpec  # noqa: E402
from localrig.rig import LocalRig  # noqa: E402

Row = list[str]
SETTLE_SECONDS = 1800.0


def pipelines(count: int) -> list[PipelineSpec]:
    """``count`` sample pipelines, each its own repository, image repository and service in one cluster."""
    return [PipelineSpec(repository=f"app{n:02d}", image_repository=f"production/app{n:02d}",
                         service=f"app{n:02d}-web", family=f"app{n:02d}-task", container="web")
            for n in range(1, count + 1)]


def _push_all(rig: LocalRig, specs: list[PipelineSpec]) -> float:
    """Commit in every repository, then push them all at once; return when the first push began. Each page names
    the run, so no engine (the shared one of a pool of one) finds the build in a layer cache of an earlier run."""
    run = time.time_ns()
    for spec in specs:
        page = f"<p>{spec.key} release {run}</p>\n"
        rig.commit(spec.repository, f"{spec.repository}: release", {"www/index.html": page})
    began = time.time()
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        list(pool.map(lambda spec: rig.push(spec.repository, spec.branch), specs))
    return began


def run_pool(state_dir: Path, specs: list[PipelineSpec], builders: int, build_seconds: str) -> dict[str, float]:
    """One fresh rig with ``builders`` builders: push every pipeline once; return makespan and builder-seconds."""
    run_dir = state_dir / "bench-pool" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-n{builders}"
    rig = LocalRig(run_dir, specs, docker_dir=state_dir / "docker", builders=builders,
                   build_args={"build_seconds": build_seconds}).start()
    try:
        rig.wait_quiet()
        spent_before = rig.builder_seconds()
        began = _push_all(rig, specs)
        keys = {spec.key for spec in specs}
        rig.wait(lambda: {r.pipeline for r in rig.build_results(began) if r.outcome == "succeeded"} >= keys,
                 SETTLE_SECONDS, f"all {len(specs)} pipelines deployed")
        results = rig.build_results(began)
        last = max(parse_timestamp(r.finished_at).timestamp() for r in results)
        rig.wait_quiet(SETTLE_SECONDS)
        write_events(rig, run_dir / "events.jsonl", began)
        print(f"timeline: .venv/bin/python benchmarks/pool_timeline.py {run_dir}", file=sys.stderr, flush=True)
        return {"makespan": last - began, "builder_seconds": rig.builder_seconds() - spent_before,
                "builds": float(len(results)), "used": float(len({r.builder_instance_id for r in results}))}
    finally:
        rig.stop()


def write_events(rig: LocalRig, path: Path, began: float) -> None:
    """Every rig event of the run (instance states, agent lines, Lambda invocations), one JSON line each, after a
    first line naming when the pushes began: ``benchmarks/pool_timeline.py`` reads it into a timeline."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"began": began}) + "\n")
        for event in list(rig.events):
            out.write(json.dumps({"time": event.time, "stage": event.stage, "text": event.text,
                                  "data": event.data}, default=str) + "\n")


def table(figures: dict[int, dict[str, float]], pushes: int) -> list[Row]:
    base = figures[min(figures)]["makespan"]
    rows: list[Row] = [["builders", "makespan", "speedup", "builder-seconds per push", "builds", "builders used"]]
    for n, f in sorted(figures.items()):
        rows.append([str(n), f"{f['makespan']:.1f} s", f"{base / f['makespan']:.2f}x",
                     f"{f['builder_seconds'] / pushes:.1f} s", f"{f['builds']:.0f}", f"{f['used']:.0f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--builders", default="1,2,4", help="pool sizes, comma-separated")
    parser.add_argument("--build-seconds", default="3", help="the sample's RUN step waits this long")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".rig")
    args = parser.parse_args(argv)
    specs = pipelines(args.pipelines)
    figures = {}
    for n in (int(part) for part in args.builders.split(",")):
        figures[n] = run_pool(args.state_dir, specs, n, args.build_seconds)
        print(f"{n} builder(s): makespan {figures[n]['makespan']:.1f} s, builder-seconds "
              f"{figures[n]['builder_seconds']:.1f}", file=sys.stderr, flush=True)
    print(f"{args.pipelines} pipelines x 1 push, RUN step waits {args.build_seconds} s")
    print(format_table(table(figures, len(specs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
