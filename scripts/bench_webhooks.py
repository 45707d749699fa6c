"""Benchmark the webhook routes' share of issue 9's performance budget (a script, not a timed test):

- cold ``import app`` in a stage with the routes vs a bare ``import boto3`` (median of N fresh interpreters;
  budget: at most 1.3x);
- the Lambda package `chalice package --stage prod` builds (budget: at most 1 MB);
- a signed GitHub push answered through Chalice's in-process gateway against a moto server (median over N
  deliveries, each a new delivery id, so each one records and publishes). The 50 ms budget is measured under
  `chalice local` on the rig; this figure is the route's own cost without the HTTP server.

Usage: .venv/bin/python scripts/bench_webhooks.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE_ENV = {"PUSHDEPLOY_FUNCTIONS": "pipeline", "REQUEST_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:r",
             "CLOSE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:c"}


def cold_import(statement: str, runs: int) -> float:
    """Median seconds of ``statement`` in a fresh interpreter (startup subtracted with an empty run)."""
    def once(code: str) -> float:
        env = dict(os.environ, **STAGE_ENV)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
        return time.perf_counter() - start
    bare = statistics.median(once("pass") for _ in range(runs))
    return statistics.median(once(statement) for _ in range(runs)) - bare


def package_size() -> int:
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
        subprocess.run([str(Path(sys.executable).parent / "chalice"), "package", "--stage", "prod", out], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        return (Path(out) / "deployment.zip").stat().st_size


def answer_times(runs: int) -> list[float]:
    sys.path.insert(0, str(ROOT))
    import boto3
    import pytest

    from localrig import services
    from tests.lambda_app import chalice_client, import_app
    from tests.webhooks.rig import make_webhook_rig, sample

    server = services.start_moto(Path(tempfile.mkdtemp()), running_tasks=1)
    try:
        os.environ.update(server.client_env())
        rig = make_webhook_rig(boto3.Session(region_name=server.region))
        monkeypatch = pytest.MonkeyPatch()
        module = import_app(monkeypatch, rig.env())
        delivery = sample("github_push")
        body = json.dumps(delivery["body"]).encode()
        times = []
        with chalice_client(module, Path(tempfile.mkdtemp())) as client:
            for index in range(runs + 1):
                headers = rig.sign("github", body, dict(delivery["headers"], **{"X-GitHub-Delivery": f"b-{index}"}))
                start = time.perf_counter()
                response = client.http.post("/webhooks/github", headers=headers, body=body)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.body
        monkeypatch.undo()
        return times[1:]  # the first pays for the clients and the secret
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    boto3_s = cold_import("import boto3", args.runs)
    app_s = cold_import("import app", args.runs)
    print(f"cold import: boto3 {boto3_s * 1000:.0f} ms, app (pipeline stage, with the routes) "
          f"{app_s * 1000:.0f} ms: {app_s / boto3_s:.2f}x (budget 1.3x)")
    size = package_size()
    print(f"lambda package: {size / 1e6:.3f} MB (budget 1 MB)")
    times = answer_times(args.runs * 4)
    print(f"signed GitHub push, in-process gateway + moto: median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms over {len(times)} deliveries")


if __name__ == "__main__":
    main()
