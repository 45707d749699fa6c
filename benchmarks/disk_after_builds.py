"""Disk used by the Docker engine after N builds of the sample app, with and without housekeeping.

Each build is a new commit of examples/sample (a changed file in www/, so every build makes a new
image) built through the agent's real path (``build_pipeline``: fetch, ECR login, build, push to the
registry, deploy on moto's ECS, housekeeping). With housekeeping "off" the settings keep every tag
(``keep_images`` = 1,000,000), so the same code runs and removes nothing. Every ``--every`` builds it
prints what ``docker system df`` reports (images + containers + build cache, parsed as JSON) and what
the engine's data directory really takes (``du``; the vfs driver copies every layer in full).

Each mode gets its own private engine (vfs, started as root like the rig's), so the figures are not
mixed with other users of a shared engine, and it is stopped and deleted afterwards. Prints figures
only; nothing here is asserted.

    .venv/bin/python benchmarks/disk_after_builds.py [--builds 50] [--every 10] [--keep-images 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from agent.builder import build_pipeline  # noqa: E402
from agent.docker.housekeeping import MB, engine_usage, local_tags  # noqa: E402
from agent.docker.image import Docker  # noqa: E402
from localrig import services  # noqa: E402
from tests.agent.agentrig import AppRepo, agent_context, make_repo, make_world, write_config  # noqa: E402

SAMPLE = ROOT / "examples" / "sample"


def sample_repo(tmp: Path) -> AppRepo:
    """examples/sample as a developer's repository pushing to a bare "CodeCommit" one."""
    repo = make_repo(tmp)
    shutil.copytree(SAMPLE, repo.work, dirs_exist_ok=True)
    repo.commit({"www/build.txt": "build 0\n"}, "the sample app")
    return repo


def du_bytes(path: Path) -> int:
    proc = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True, timeout=600)
    return int(proc.stdout.split()[0])


def one_mode(tmp: Path, moto: services.MotoServer, registry: services.Registry, builds: int, every: int,
             keep_images: int) -> list[tuple[int, int, int, int]]:
    """(builds, docker df bytes, data dir bytes, local tags of the repository) every ``every`` builds."""
    engine_dir = tmp / "engine"
    os.environ.pop("DOCKER_HOST", None)
    engine = services.find_or_start_docker(engine_dir)
    try:
        base = services.ensure_base_image(engine)
        (tmp / "docker-config").mkdir()
        os.environ.update(DOCKER_HOST=engine.host, DOCKER_CONFIG=str(tmp / "docker-config"))
        moto.reset()
        repo = sample_repo(tmp)
        assert base == "local/busybox:latest"
        world = make_world(boto3.Session(region_name=moto.region), registry.address)
        config = write_config(tmp / "agent.toml", world, repo, tmp / "cache")
        config.write_text(config.read_text().replace(
            "visibility_timeout_seconds = 30\n", f"visibility_timeout_seconds = 30\nkeep_images = {keep_images}\n"))
        ctx = agent_context(config)
        ctx.progress.sinks[:] = [lambda line: None]
        pipeline = ctx.config.pipelines[0]
        docker = Docker({"DOCKER_HOST": engine.host})
        name = f"{registry.address}/{world.image_repository}"
        rows = [(0, engine_usage(docker), du_bytes(engine_dir / "data"), 0)]
        for n in range(1, builds + 1):
            repo.commit({"www/build.txt": f"build {n} at {time.time()}\n"}, f"build {n}")
            result = build_pipeline(ctx, pipeline)
            if result.outcome != "succeeded":
                raise SystemExit(f"build {n} {result.outcome}: {result.error}")
            if n % every == 0:
                rows.append((n, engine_usage(docker), du_bytes(engine_dir / "data"), len(local_tags(docker, name))))
        return rows
    finally:
        engine.stop()
        shutil.rmtree(engine_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=50)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--keep-images", type=int, default=5)
    args = parser.parse_args()
    results = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pushdeploy-disk-") as tmp_dir:
        tmp = Path(tmp_dir)
        rig = services.Rig()
        try:
            moto = rig.add(services.start_moto(tmp / "moto", running_tasks=1))
            registry = rig.add(services.start_registry(tmp / "registry"))
            os.environ.update(moto.client_env())
            for mode, keep in (("off", 1_000_000), ("on", args.keep_images)):
                (tmp / mode).mkdir()
                results[mode] = one_mode(tmp / mode, moto, registry, args.builds, args.every, keep)
        finally:
            rig.stop()
    print(f"disk used by the engine after N builds of examples/sample (housekeeping on: keep_images="
          f"{args.keep_images}; {time.monotonic() - started:.0f}s in all)")
    print(f"{'builds':>6} | {'off: df MB':>10} {'du MB':>8} {'tags':>5} | {'on: df MB':>9} {'du MB':>8} {'tags':>5}"
          f" | {'du off/on':>9}")
    for off, on in zip(results["off"], results["on"], strict=True):
        ratio = off[2] / on[2] if on[2] else float("nan")
        print(f"{off[0]:>6} | {off[1] / MB:>10.1f} {off[2] / MB:>8.1f} {off[3]:>5} | {on[1] / MB:>9.1f}"
              f" {on[2] / MB:>8.1f} {on[3]:>5} | {ratio:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
