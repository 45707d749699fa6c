"""What every fuzz module shares: the fixed seed, the number of inputs, and the count of inputs each handler
really ran (printed at the end of the run as "fuzz: request 1000 inputs, ...").

A new fuzz module (e.g. the reconcile's, tests/fuzz/test_fuzz_reconcile.py) follows the same
steps inside one test function, so the app and AWS resources are built once and reused by every input
(see test_fuzz_close.py for a whole one):

    def test_reconcile_never_crashes(pipeline_rig, monkeypatch, tmp_path):   # fixtures: tests/fuzz/conftest.py
        module = import_app(monkeypatch, pipeline_rig.env())
        calls = AwsCalls(module, ("ec2", None), ("sqs", None), ("sns", None))  # the handler's own clients
        with chalice_client(module, tmp_path) as client:

            @fuzz("reconcile", [to_text(edited) for edited in sweep(SAMPLE)])  # tests/fuzz/mutations.py
            @given(message_texts(SAMPLE))
            def run(message):
                tally("reconcile")
                ...invoke the handler; for invalid input assert calls.changes() == []...

            run()
        assert_enough("reconcile")
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import HealthCheck, Phase, example, seed, settings

FUZZ_SEED = int(os.environ.get("PUSHDEPLOY_FUZZ_SEED", "20261126"))
FUZZ_EXAMPLES = int(os.environ.get("PUSHDEPLOY_FUZZ_EXAMPLES", "1000"))
COUNTS: Counter[str] = Counter()


def fuzz(handler: str, explicit: Sequence[Any] = (), examples: int = FUZZ_EXAMPLES) -> Callable[[Any], Any]:
    """Settings for a handler's inner ``@given`` function of one argument: every ``explicit`` input (the
    single-edit sweep of the samples, see mutations.sweep) and then generated ones, ``examples`` in all but
    at least half of them generated; the run's seed (replayable); no deadline (moto on a shared machine is
    slow at times); no example database in the repository."""
    generated = max(examples - len(explicit), examples // 2)

    def wrap(test: Any) -> Any:
        for value in explicit:
            test = example(value)(test)
        configured = settings(max_examples=generated, deadline=None, database=None, print_blob=True,
                              phases=(Phase.explicit, Phase.generate, Phase.shrink),
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                     HealthCheck.large_base_example])(test)
        return seed(FUZZ_SEED)(configured)
    return wrap


def tally(handler: str) -> None:
    """One generated input reached ``handler``."""
    COUNTS[handler] += 1


def assert_enough(handler: str, examples: int = FUZZ_EXAMPLES) -> None:
    assert COUNTS[handler] >= examples, f"{handler}: only {COUNTS[handler]} inputs ran, {examples} asked"


def summary() -> str:
    counts = ", ".join(f"{name} {count} inputs" for name, count in COUNTS.items())
    return f"fuzz: {counts} (seed {FUZZ_SEED}; replay with PUSHDEPLOY_FUZZ_SEED={FUZZ_SEED})"
