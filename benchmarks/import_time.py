"""Cold-import time of app.py (as Lambda or `chalice local` imports it) versus a bare `import boto3`.

Each measurement runs in a fresh Python process, so nothing is already imported; the stage
settings come from .chalice/config.json. Prints figures only: speed is watched here, not asserted
in tests. Usage: .venv/bin/python benchmarks/import_time.py [repetitions]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def stage_env(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return config["stages"][stage]["environment_variables"]


def measure(module: str, extra_env: dict[str, str], repetitions: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHDEPLOY")} | extra_env
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    times = []
    for _ in range(repetitions):
        done = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60, check=True)
        times.append(float(done.stdout.strip()))
    return times


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    cases = {"import boto3": ("boto3", {}),
             "import app (prod stage)": ("app", stage_env("prod")),
             "import app (dev stage)": ("app", stage_env("dev")),
             # every function and route, no authorizer: what `chalice local --stage local` imports (its other
             # settings come from the shell; the prod stage's stand in for the rig's)
             "import app (local stage)": ("app", stage_env("prod") | stage_env("local"))}
    medians = {}
    print(f"cold import, fresh process each time, {repetitions} repetitions, {sys.version.split()[0]}")
    for label, (module, env) in cases.items():
        times = measure(module, env, repetitions)
        medians[label] = statistics.median(times)
        print(f"  {label:26s} median {medians[label] * 1000:7.1f} ms   min {min(times) * 1000:7.1f} ms   "
              f"max {max(times) * 1000:7.1f} ms")
    for label in ("import app (prod stage)", "import app (dev stage)", "import app (local stage)"):
        print(f"  ratio {label} / import boto3: {medians[label] / medians['import boto3']:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
