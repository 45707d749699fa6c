"""Time to answer a signed GitHub push webhook under a real `chalice local --stage local` on the rig.

    .venv/bin/python benchmarks/webhook_latency.py [--deliveries 50] [--state-dir .rig]

The rig runs as `python -m localrig up` runs it; each delivery is a new connection carrying the same
push of the sample's ``production`` head with a fresh delivery id, signed with the rig's GitHub secret,
so every one is verified, recorded in the deliveries table and published, as a new push would be (the
builder wakes and builds meanwhile, on the same machine). The first delivery (cold: the secret is read
from SSM) is reported apart; two reference series follow: a push of a branch that BRANCH_FILTER excludes
(nothing written) and a path without a route (chalice local alone). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localrig.demo import SAMPLE  # noqa: E402
from localrig.git import webhook_hook  # noqa: E402
from localrig.git.webhook_payloads import branch_update, github_delivery, github_push  # noqa: E402
from localrig.lambdas import local_stage  # noqa: E402
from localrig.rig import LocalRig  # noqa: E402

TARGET_MEDIAN_MS = 50.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def timed(send: Callable[[], int], count: int) -> tuple[list[float], dict[int, int]]:
    """Seconds per call of ``send`` (which returns the HTTP status) and the count per status."""
    times, statuses = [], {}
    for _ in range(count):
        started = time.perf_counter()
        status = send()
        times.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    return times, statuses


def series(rig: LocalRig, url: str, deliveries: int) -> dict[str, tuple[list[float], dict[int, int]]]:
    """The push that builds (first delivery apart: it reads the secret), then two references: a push of a branch
    BRANCH_FILTER excludes (signature and body checked, nothing written or published) and a path without a
    route (chalice local's own floor)."""
    exports = rig.local_exports()
    secret_name = f"{exports['WEBHOOK_SECRET_PREFIX'].rstrip('/')}/github"
    secret = rig.client("ssm").get_parameter(Name=secret_name, WithDecryption=True)["Parameter"]["Value"].encode()
    bare = rig.bare[SAMPLE.repository]
    payload = github_push(bare, SAMPLE.repository, branch_update(bare, SAMPLE.branch), "benchmark")
    elsewhere = dict(payload, ref="refs/heads/not-a-pipeline-branch")

    def push(body: dict[str, Any]) -> Callable[[], int]:
        return lambda: webhook_hook.send(f"{url}/webhooks/github", github_delivery(body, secret))["status"]

    def no_route() -> int:
        try:
            urllib.request.urlopen(f"{url}/no-route", timeout=10).close()
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200

    return {"first push (cold: secret read from SSM)": timed(push(payload), 1),
            "push that builds (ledger write + publish)": timed(push(payload), deliveries),
            "push of a branch the filter excludes": timed(push(elsewhere), deliveries),
            "path without a route (chalice local's floor)": timed(no_route, deliveries)}


def report(label: str, times: list[float], statuses: dict[int, int]) -> str:
    ms = [t * 1000 for t in times]
    if len(ms) == 1:
        return f"  {label:46s} {ms[0]:7.1f} ms  answers {json.dumps(statuses)}"
    return (f"  {label:46s} median {statistics.median(ms):6.1f} ms  p90 {percentile(ms, 0.9):6.1f} ms  "
            f"min {min(ms):6.1f}  max {max(ms):6.1f}  answers {json.dumps(statuses)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".rig")
    args = parser.parse_args(argv)
    run_dir = args.state_dir.resolve() / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-webhook")
    rig = LocalRig(run_dir, [SAMPLE], docker_dir=args.state_dir.resolve() / "docker").start()
    try:
        local_stage.make_branches(rig)
        url = rig.start_chalice_local()
        figures = series(rig, url, args.deliveries)
    finally:
        rig.stop()
    print(f"signed GitHub push webhooks, {args.deliveries} each, to chalice local --stage local on the rig ({url})")
    for label, (times, statuses) in figures.items():
        print(report(label, times, statuses))
    median_ms = statistics.median(figures["push that builds (ledger write + publish)"][0]) * 1000
    print(f"  target: a push that builds answered at a median <= {TARGET_MEDIAN_MS:.0f} ms -> "
          f"{'met' if median_ms <= TARGET_MEDIAN_MS else 'MISSED'} ({median_ms:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
