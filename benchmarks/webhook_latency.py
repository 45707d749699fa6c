"""Time to answer a signed GitHub push webhook under a real `chalice local --stage local` on the rig.

    .venv/bin/python benchmarks/webhook_latency.py [--deliveries 50] [--state-dir .rig]

The rig runs as `python -m localrig up` runs it; each delivery is a new connection carrying the same
push of the sample's ``production`` head with a fresh delivery id, signed with the rig's GitHub secret,
so every one is verified, recorded in the deliveries table and published, as a new push would be. The
first delivery (cold: the secret is read from SSM) is reported apart. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localrig import local_stage, webhook_hook  # noqa: E402
from localrig.demo import SAMPLE  # noqa: E402
from localrig.rig import LocalRig  # noqa: E402
from localrig.webhook_payloads import branch_update, github_delivery, github_push  # noqa: E402

TARGET_MEDIAN_MS = 50.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(rig: LocalRig, url: str, deliveries: int) -> tuple[float, list[float], dict[int, int]]:
    """(first delivery's seconds, the others' seconds, count per status)."""
    exports = rig.local_exports()
    secret_name = f"{exports['WEBHOOK_SECRET_PREFIX'].rstrip('/')}/github"
    secret = rig.client("ssm").get_parameter(Name=secret_name, WithDecryption=True)["Parameter"]["Value"].encode()
    bare = rig.bare[SAMPLE.repository]
    payload = github_push(bare, SAMPLE.repository, branch_update(bare, SAMPLE.branch), "benchmark")
    statuses: dict[int, int] = {}
    times = []
    for _ in range(deliveries + 1):
        outcome = webhook_hook.send(f"{url}/webhooks/github", github_delivery(payload, secret))
        statuses[outcome["status"]] = statuses.get(outcome["status"], 0) + 1
        times.append(outcome["seconds"])
    return times[0], times[1:], statuses


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
        started = time.perf_counter()
        first, times, statuses = measure(rig, url, args.deliveries)
        wall = time.perf_counter() - started
    finally:
        rig.stop()
    median_ms = statistics.median(times) * 1000
    print(f"signed GitHub push webhooks to chalice local --stage local on the rig ({url}/webhooks/github)")
    print(f"  first delivery (cold secret read): {first * 1000:.1f} ms")
    print(f"  next {len(times)}: median {median_ms:.1f} ms, p90 {percentile(times, 0.9) * 1000:.1f} ms, "
          f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; {wall:.1f} s in all")
    print(f"  answers: {json.dumps(statuses)}")
    print(f"  target: median <= {TARGET_MEDIAN_MS:.0f} ms -> {'met' if median_ms <= TARGET_MEDIAN_MS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
