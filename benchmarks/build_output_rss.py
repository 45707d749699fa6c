"""Peak memory (RSS) of the agent during a build whose Dockerfile prints 100 MB of output.

Each measurement is a child process that runs the agent's real build path (``build_pipeline``: fetch,
ECR login, build, push, deploy on moto, build log to moto's CloudWatch Logs) once; the parent reads
the child's own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``, reported by the child as it exits; the
docker CLI is a separate process and not counted). Modes:

- ``quiet``: the same build path with a Dockerfile that prints one line (the baseline);
- ``streamed``: this agent (docker output read line by line, a bounded tail kept);
- ``captured``: the agent before streaming (``subprocess.run(capture_output=True)``, its ``Docker``
  class loaded from git at ``--old-ref``), on the same build path otherwise.

Uses the real parts started as the tests do (moto server, registry, the Docker engine of DOCKER_HOST).
Prints figures only; nothing here is asserted.

    .venv/bin/python benchmarks/build_output_rss.py [--megabytes 100] [--old-ref e402efa]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from benchmarks.parts import running_parts  # noqa: E402
from tests.agent.agentrig import BASE_IMAGE, agent_context, make_repo, make_world, write_config  # noqa: E402

LINE_CHARS = 999  # + newline = 1,000 bytes a line: 100 MB is 100,000 lines (fewer events for moto to hold)


def dockerfile(megabytes: int) -> str:
    lines = megabytes * 1_000_000 // (LINE_CHARS + 1)
    loud = (f"RUN busybox yes \"$(busybox printf '%0{LINE_CHARS}d' 0)\" | busybox head -n {lines}\n"
            if megabytes else "RUN echo one quiet line\n")
    return f"FROM {BASE_IMAGE}\nCOPY app.txt /app.txt\n{loud}"


def child(config: str, mode: str, old_ref: str) -> int:
    """Runs in the measured process: one build through the agent's own path, then its own peak RSS."""
    import agent.builder
    from agent.builder import build_pipeline

    if mode == "captured":
        agent.builder.Docker = _old_docker(old_ref)
    ctx = agent_context(Path(config))
    ctx.progress.sinks[:] = [lambda line: None]
    started = time.monotonic()
    result = build_pipeline(ctx, ctx.config.pipelines[0])
    print(json.dumps({"outcome": result.outcome, "error": result.error, "seconds": time.monotonic() - started,
                      "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    return 0


def _old_docker(ref: str) -> type:
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:agent/image.py"], capture_output=True,
                            text=True, check=True).stdout
    # the old module predates agent/'s subpackages: point its imports at where those modules live now
    for moved in ("build_failure", "imageref"):
        source = source.replace(f"from agent.{moved} import", f"from agent.docker.{moved} import")
    path = Path(tempfile.mkdtemp(prefix="pushdeploy-old-image-")) / "old_image.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_image", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Docker


def measure(config: Path, mode: str, old_ref: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--config", str(config), "--old-ref", old_ref],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} build failed to run:\n{proc.stderr[-3000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if found["outcome"] != "succeeded":
        raise SystemExit(f"{mode} build {found['outcome']}: {found['error']}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--old-ref", default="e402efa", help="git revision with the pre-streaming agent/image.py")
    parser.add_argument("--child", choices=("quiet", "streamed", "captured"))
    parser.add_argument("--config")
    args = parser.parse_args()
    if args.child:
        return child(args.config, args.child, args.old_ref)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pushdeploy-rss-") as tmp_dir:
        tmp = Path(tmp_dir)
        with running_parts(tmp) as parts:
            repo = make_repo(tmp, parts.base_image)
            world = make_world(boto3.Session(region_name=parts.moto.region), parts.registry.address)
            config = write_config(tmp / "agent.toml", world, repo, tmp / "cache")
            for n, (mode, megabytes) in enumerate((("quiet", 0), ("streamed", args.megabytes),
                                                   ("captured", args.megabytes))):
                repo.commit({"Dockerfile": dockerfile(megabytes), "app.txt": f"run {n} {time.time()}\n"}, f"{mode} run")
                rows.append((mode, megabytes, measure(config, mode, args.old_ref, dict(os.environ))))
    print(f"agent peak RSS during one build (build_pipeline in a child process; docker output {args.megabytes} MB)")
    print(f"{'mode':<10} {'output MB':>9} {'agent peak RSS MB':>18} {'build s':>8}")
    for mode, megabytes, found in rows:
        print(f"{mode:<10} {megabytes:>9} {found['self_kb'] / 1024:>18.1f} {found['seconds']:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
