"""What every fuzz module shares: the fixed seed, the number of inputs, and the count of inputs each handler
really ran (printed at the end of the run as "fuzz: request 1000 inputs, ...").

A new fuzz module (e.g. the reconcile's) follows the same three steps inside one test function, so AWS
resources and the app are built once and reused by every generated input:

    def test_reconcile_never_crashes(pipeline):                   # fixtures from tests/fuzz/conftest.py
        @fuzz("reconcile")
        @given(mutated_json(SAMPLE))                               # tests/fuzz/mutations.py
        def run(message):
            tally("reconcile")
            ...invoke the handler, then assert no side effect for invalid input...
        run()
        assert_enough("reconcile")
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, seed, settings

FUZZ_SEED = int(os.environ.get("PUSHDEPLOY_FUZZ_SEED", "20261126"))
FUZZ_EXAMPLES = int(os.environ.get("PUSHDEPLOY_FUZZ_EXAMPLES", "1000"))
COUNTS: Counter[str] = Counter()


def fuzz(handler: str, examples: int = FUZZ_EXAMPLES) -> Callable[[Any], Any]:
    """Settings for a handler's inner ``@given`` function: the run's seed (replayable), ``examples`` inputs,
    no deadline (moto on a shared machine is slow at times), no example database in the repository."""
    def wrap(test: Any) -> Any:
        configured = settings(max_examples=examples, deadline=None, database=None, print_blob=True,
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
