"""Warm caches in a pool: seconds of one build on a cold builder, on a cold one with --cache-from, on a warm one.

Warm: a builder that has the pipeline's git clone and image layers. Cold: a fresh one (an empty ``cache_dir``
and an empty Docker engine). Cold with --cache-from: a fresh one that pulls the image the service runs and
builds with ``--cache-from`` it (what the agent does now).

Pipelines move between builders in a pool, so this is what a move costs. Each case is the agent's real
build path (``build_pipeline``: fetch, ECR login, read what runs, pull, build, push to the registry, deploy on
moto's ECS) on a private Docker engine started here (vfs, its own data/exec root and socket under the temp
directory), so the figures are not mixed with other users of a shared engine. Each engine gets the same base
image by ``docker save | docker load`` (as every builder pulls the same base from a registry: the classic
builder reuses a pulled image's layers only when the history under them is the same).

The app is examples/sample with ``RUN sleep 3`` right after ``FROM`` (standing for a dependency install that
a code change does not invalidate), and each build is of a new commit that changes a file in www/. Per repeat:

- cold: a fresh engine and cache_dir, and the service runs an image that was never pushed (nothing to pull);
- warm: the same engine and cache_dir again, one commit later;
- cold + --cache-from: another fresh engine and cache_dir; the service runs the warm build's image.

Prints the median seconds of each case (total and per step); nothing is asserted.

    .venv/bin/python benchmarks/warm_cache.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from agent.builder import build_pipeline  # noqa: E402
from localrig import services  # noqa: E402
from tests.agent.agentrig import AppRepo, World, agent_context, make_repo, make_world, write_config  # noqa: E402

SAMPLE = ROOT / "examples" / "sample"
SLEEP_STEP = "RUN sleep 3"
STEPS = ("source", "pull", "build", "push", "deploy")
CASES = ("cold", "cold + --cache-from", "warm")


def sample_repo(tmp: Path, base_image: str) -> AppRepo:
    """examples/sample (FROM the rig's base image) with ``RUN sleep 3`` after FROM, pushed to a bare repository."""
    repo = make_repo(tmp, base_image)
    shutil.copytree(SAMPLE, repo.work, dirs_exist_ok=True)
    lines = (repo.work / "Dockerfile").read_text().splitlines()
    if SLEEP_STEP not in lines:
        at = next(i for i, line in enumerate(lines) if line.startswith("FROM ")) + 1
        lines.insert(at, SLEEP_STEP)
    repo.commit({"Dockerfile": "\n".join(lines) + "\n", "www/build.txt": "build 0\n"}, "the sample app")
    return repo


@contextmanager
def private_engine(workdir: Path, base_tar: Path) -> Iterator[services.DockerEngine]:
    """A new, empty dockerd (as root, like the rig's) holding only the base image; deleted afterwards."""
    shared = os.environ.pop("DOCKER_HOST", None)
    try:
        engine = services.find_or_start_docker(workdir)
    finally:
        if shared is not None:
            os.environ["DOCKER_HOST"] = shared
    try:
        engine.docker("load", "--input", str(base_tar), timeout=300)
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def save_base_image(tmp: Path) -> tuple[str, Path]:
    """The base image as a tarball, from the engine DOCKER_HOST names (else a private one that makes it)."""
    tar = tmp / "base.tar"
    if services.docker_reachable(os.environ.get("DOCKER_HOST")):
        engine = services.find_or_start_docker(tmp / "unused")
        base = services.ensure_base_image(engine)
        engine.docker("save", "--output", str(tar), base, timeout=300)
        return base, tar
    engine = services.find_or_start_docker(tmp / "maker")
    try:
        base = services.ensure_base_image(engine)
        engine.docker("save", "--output", str(tar), base, timeout=300)
    finally:
        engine.stop()
        shutil.rmtree(tmp / "maker", ignore_errors=True)
    return base, tar


def timed_build(world: World, repo: AppRepo, engine: services.DockerEngine, cache_dir: Path,
                n: int) -> dict[str, float]:
    """One build of a new commit (a www/ change) on ``engine`` with ``cache_dir``: seconds, total and per step."""
    repo.commit({"www/build.txt": f"build {n} at {time.time()}\n"}, f"build {n}")
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    config = write_config(cache_dir.parent / f"agent-{n}.toml", world, repo, cache_dir)
    ctx = agent_context(config)
    ctx.progress.sinks[:] = [lambda line: None]
    ctx.docker_env = engine.env()
    started = time.monotonic()
    result = build_pipeline(ctx, ctx.config.pipelines[0])
    total = time.monotonic() - started
    if result.outcome != "succeeded":
        raise SystemExit(f"build {n} {result.outcome}: {result.error}")
    row = {"total": total, **{step: 0.0 for step in STEPS}}
    for step, seconds in ctx.progress.timings:
        if step in row:
            row[step] += seconds
    return row


def one_repeat(tmp: Path, moto: services.MotoServer, registry: services.Registry, base: str,
               base_tar: Path) -> dict[str, dict[str, float]]:
    moto.reset()
    repo = sample_repo(tmp / "repo", base)
    world = make_world(boto3.Session(region_name=moto.region), registry.address)
    rows: dict[str, dict[str, float]] = {}
    with private_engine(tmp / "e1", base_tar) as engine:
        rows["cold"] = timed_build(world, repo, engine, tmp / "c1" / "cache", 1)
        rows["warm"] = timed_build(world, repo, engine, tmp / "c1" / "cache", 2)
    with private_engine(tmp / "e2", base_tar) as engine:
        rows["cold + --cache-from"] = timed_build(world, repo, engine, tmp / "c2" / "cache", 3)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        raise SystemExit("warm_cache.py starts its own dockerd: run it as root on a machine with dockerd")
    runs = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pd-warm-", dir="/tmp") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "docker-config").mkdir()
        os.environ["DOCKER_CONFIG"] = str(tmp / "docker-config")
        base, base_tar = save_base_image(tmp)
        rig = services.Rig()
        try:
            moto = rig.add(services.start_moto(tmp / "moto", running_tasks=1))
            registry = rig.add(services.start_registry(tmp / "registry"))
            os.environ.update(moto.client_env())
            for n in range(args.repeat):
                (tmp / f"r{n}").mkdir()
                runs.append(one_repeat(tmp / f"r{n}", moto, registry, base, base_tar))
        finally:
            rig.stop()
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                            check=False, timeout=30).stdout.strip() or "?"
    print(f"warm caches: examples/sample + `{SLEEP_STEP}` after FROM, a www/ change per build; median of "
          f"{args.repeat} (Docker {docker}, classic builder, vfs; {time.monotonic() - started:.0f}s in all)")
    print(f"{'case':<22}{'total s':>9}" + "".join(f"{step:>9}" for step in STEPS))
    for case in CASES:
        median = {key: statistics.median(run[case][key] for run in runs) for key in ("total", *STEPS)}
        print(f"{case:<22}{median['total']:>9.2f}" + "".join(f"{median[step]:>9.2f}" for step in STEPS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
