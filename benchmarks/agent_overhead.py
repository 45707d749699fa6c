"""Agent overhead for one build: wall time of a whole `run` (receive the request, fetch, ECR login,
read the deployed image, build, push, deploy on ECS, publish the result, delete the request,
EndOfRun) minus the time docker spent building and pushing.

Runs against the real parts (moto server, Docker engine, registry), started here as the tests do.
Each iteration pushes a new commit so every build really builds and pushes. Just prints a table.

    .venv/bin/python benchmarks/agent_overhead.py [--iterations 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from agent.runner import Runner  # noqa: E402
from benchmarks.parts import running_parts  # noqa: E402
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config  # noqa: E402


def one_run(config: Path, world, repo, n: int) -> dict[str, float]:
    repo.commit({"app.txt": f"iteration {n}\n"}, f"iteration {n}")
    world.send()
    ctx = agent_context(config, lines=[])
    ctx.progress.sinks[:] = [lambda line: None]
    started = time.monotonic()
    stats = Runner(ctx).run(exit_when_idle=True)
    wall = time.monotonic() - started
    assert stats.builds == 1, stats
    results = world.close_messages()
    assert [type(m).__name__ for m in results] == ["BuildResult", "EndOfRun"], results
    assert results[0].outcome == "succeeded", results[0].error
    steps = dict(ctx.progress.timings)
    docker = steps["build"] + steps["push"]
    return {"wall": wall, "build": steps["build"], "push": steps["push"], "overhead": wall - docker,
            **{f"step:{k}": v for k, v in steps.items() if k not in ("build", "push")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pushdeploy-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        with running_parts(tmp) as parts:
            repo = make_repo(tmp, parts.base_image)
            world = make_world(boto3.Session(region_name=parts.moto.region), parts.registry.address)
            config = write_config(tmp / "agent.toml", world, repo, tmp / "cache")
            rows = [one_run(config, world, repo, n) for n in range(1, args.iterations + 1)]
    print_table(rows)
    return 0


def print_table(rows: list[dict[str, float]]) -> None:
    other = sorted({k for row in rows for k in row if k.startswith("step:")})
    columns = ["wall", "build", "push", "overhead", *other]
    print("agent overhead for one build (seconds; overhead = wall - docker build - docker push)")
    print(f"{'run':>4} " + " ".join(f"{c.removeprefix('step:'):>9}" for c in columns))
    for i, row in enumerate(rows, 1):
        print(f"{i:>4} " + " ".join(f"{row.get(c, 0.0):9.3f}" for c in columns))
    print(f"{'med':>4} " + " ".join(f"{statistics.median(r.get(c, 0.0) for r in rows):9.3f}" for c in columns))


if __name__ == "__main__":
    sys.exit(main())
