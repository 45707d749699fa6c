"""Releases count as receives: how many pushes SQS's redrive dead-letters unbuilt when a pool's agents
release each other's message groups, per maxReceiveCount of the FIFO build queue.

N agents (real ``Runner`` objects, one thread each, their own cache_dir) serve one FIFO build queue on the
moto server with P pipelines x 1 push. Each build fails fast at the fetch (a missing source) after a pause of
``--build-seconds`` that stands for the build, so the rounds overlap as in a pool. Per maxReceiveCount it
prints how many pushes were built, how many SQS moved to the dead-letter queue, and the makespan. Compare a
run of the agent without its keep rule (agent/queue/build_queue.py ``split_group``) to see the losses it
prevents. Nothing is asserted.

    .venv/bin/python benchmarks/fifo_release_churn.py [--builders 4] [--pipelines 20] [--max-receives 5 10 20 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from agent.runner import Runner  # noqa: E402
from chalicelib.contracts import BuildResult  # noqa: E402
from localrig import services  # noqa: E402
from tests.agent.agentrig import agent_context, make_repo, make_world, pipeline_block, write_config  # noqa: E402


def building(line: str, seconds: float, kept: list[str]) -> None:
    """The pause standing for a build: at the agent's "build <pipeline> started" line. Counts the rounds that kept
    a second group (a message at maxReceiveCount): each makes one builder build two pipelines in a row."""
    if "] build p" in line and line.endswith(" started"):
        time.sleep(seconds)
    if "queue: also serving" in line:
        kept.append(line)


def one_run(tmp: Path, moto: services.MotoServer, builders: int, pipelines: int, max_receives: int,
            build_seconds: float) -> tuple[int, int, float, str, int]:
    """(built, dead-lettered by SQS, makespan seconds, builds per agent, rounds that kept a second group)."""
    moto.reset()
    world = make_world(boto3.Session(region_name=moto.region), "127.0.0.1:5000", fifo=True)
    sqs = world.client("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=world.queue_url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})})
    repo = make_repo(tmp / "repo")
    extra = "".join(pipeline_block(world, f"p{i:02d}", tmp / "missing.git") for i in range(pipelines))
    runners = []
    kept: list[str] = []
    for b in range(builders):
        config = write_config(tmp / f"b{b}.toml", world, repo, tmp / f"cache{b}", extra_pipelines=extra, grace=3)
        ctx = agent_context(config, [])
        ctx.progress.sinks[:] = [lambda line: building(line, build_seconds, kept)]
        runners.append(Runner(ctx))
    for i in range(pipelines):
        world.send(repository=f"p{i:02d}")
    threads = [threading.Thread(target=r.run, kwargs={"exit_when_idle": True}) for r in runners]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    makespan = time.monotonic() - started
    built = sum(isinstance(m, BuildResult) for m in world.close_messages())
    per_agent = "/".join(str(r.stats.builds) for r in runners)
    return built, len(world.dead_letters()), makespan, per_agent, len(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builders", type=int, default=4)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--max-receives", type=int, nargs="+", default=[5, 10, 20, 100])
    parser.add_argument("--build-seconds", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pd-churn-") as tmp_dir:
        tmp = Path(tmp_dir)
        moto = services.start_moto(tmp / "moto")
        try:
            os.environ.update(moto.client_env())
            for n, max_receives in enumerate(args.max_receives):
                (tmp / f"r{n}").mkdir()
                rows.append((max_receives, *one_run(tmp / f"r{n}", moto, args.builders, args.pipelines,
                                                    max_receives, args.build_seconds)))
        finally:
            moto.stop()
    print(f"{args.builders} agents, {args.pipelines} pipelines x 1 push, builds of {args.build_seconds}s (FIFO queue)")
    print(f"{'maxReceiveCount':>15} {'built':>6} {'to DLQ':>7} {'makespan s':>11} {'per agent':>12} {'kept 2nd':>9}")
    for max_receives, built, lost, makespan, per_agent, kept in rows:
        print(f"{max_receives:>15} {built:>6} {lost:>7} {makespan:>11.1f} {per_agent:>12} {kept:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
