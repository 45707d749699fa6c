"""Session fixtures for the real parts: moto server (AWS), a Docker engine, a registry.

AWS is the only stand-in. Every boto3 client a test builds reaches moto through the standard
AWS_ENDPOINT_URL variable, set per test by the ``aws`` fixture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, settings

from localrig import services
from localrig.aws.faults import FaultSwitch
from tests.fuzz.harness import FUZZ_EXAMPLES, FUZZ_SEED

FIXTURES = Path(__file__).parent / "fixtures"
RIG_DIR = Path(os.environ.get("PUSHDEPLOY_RIG_DIR", "/tmp/pushdeploy-test-rig"))

# Every hypothesis test runs the same inputs on every machine (derandomize), writes no example database into
# the repository, and has no deadline (timings on a shared machine mean nothing). The fuzz tests in
# tests/fuzz/ use an explicit seed instead (PUSHDEPLOY_FUZZ_SEED, see tests/fuzz/harness.py), printed in
# the report header so a failure can be replayed.
settings.register_profile("pushdeploy", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("PUSHDEPLOY_HYPOTHESIS_PROFILE", "pushdeploy"))


def pytest_report_header() -> list[str]:
    return [f"fuzz: seed {FUZZ_SEED} (PUSHDEPLOY_FUZZ_SEED), at least {FUZZ_EXAMPLES} inputs per handler "
            "(PUSHDEPLOY_FUZZ_EXAMPLES)"]


def load_event(name: str) -> dict:
    """A sample event from tests/fixtures/events (copied from ../shared/events, source noted there)."""
    return json.loads((FIXTURES / "events" / name).read_text())


def _unavailable(exc: Exception) -> None:
    """Real parts missing: fail in CI (tests must run there), skip with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"real part unavailable in CI: {exc}", pytrace=False)
    pytest.skip(f"real part unavailable: {exc}")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.MotoServer]:
    server = services.start_moto(tmp_path_factory.mktemp("moto"), running_tasks=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def faulty_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[services.MotoServer, FaultSwitch]]:
    """A moto server of the module's own with the rig's fault switch (localrig/aws/faults.py): the faults a
    test turns on never reach another module's tests."""
    workdir = tmp_path_factory.mktemp("moto-faults")
    switch = FaultSwitch(workdir / "faults.json")
    server = services.start_moto(workdir, running_tasks=1, faults_file=switch.path)
    yield server, switch
    server.stop()


@pytest.fixture
def aws(moto_server: services.MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A clean moto account for this test; boto3 clients built anywhere in-process reach it."""
    moto_server.reset()
    for key, value in moto_server.client_env().items():
        monkeypatch.setenv(key, value)
    yield boto3.Session(region_name=moto_server.region)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[services.DockerEngine]:
    try:
        engine = services.find_or_start_docker(RIG_DIR / "docker")
    except services.ServiceError as exc:
        _unavailable(exc)
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def base_image(docker_engine: services.DockerEngine) -> str:
    try:
        return services.ensure_base_image(docker_engine)
    except services.ServiceError as exc:
        _unavailable(exc)
        raise


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Registry]:
    try:
        reg = services.start_registry(tmp_path_factory.mktemp("registry"))
    except services.ServiceError as exc:
        _unavailable(exc)
    yield reg
    reg.stop()
