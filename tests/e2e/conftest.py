"""The end-to-end rig: every stand-in wired together, fresh per test (moto, registry, Lambda host,
git repositories, Slack receiver), on the session's real Docker engine.

A test pushes with git and reads what the pipeline did: results on the close topic, tags in the
registry, the service's revision, the builder's state, the Slack payloads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localrig.ledger.context import refresh_instance_tags
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig
from tests.e2e import ledger_report

SAMPLE = PipelineSpec(repository="sample", image_repository="production/sample", service="web",
                      family="production-task", container="web")
OTHER = PipelineSpec(repository="other", image_repository="production/other", service="other-web",
                     family="other-task", container="web")


def _rig(tmp_path, docker_engine, pipelines) -> Iterator[LocalRig]:
    rig = LocalRig(tmp_path / "rig", pipelines, engine=docker_engine).start()
    try:
        yield rig
    finally:
        try:
            refresh_instance_tags(rig.run_dir, rig.client)
        finally:
            rig.stop()


@pytest.fixture
def rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    """The sample pipeline, ready: nothing built yet, the builder stopped."""
    yield from _rig(tmp_path, docker_engine, [SAMPLE])


@pytest.fixture
def two_pipeline_rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    yield from _rig(tmp_path, docker_engine, [SAMPLE, OTHER])


# The IAM call ledger's table and verdict at the end of the session (tests/e2e/ledger_report.py says why here).
_config: list[pytest.Config] = []


def pytest_configure(config: pytest.Config) -> None:
    _config.append(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ledger_report.collected(config, items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        ledger_report.deselected(items[0].config, items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _config:
        ledger_report.reported(_config[-1], report)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    ledger_report.finish(session)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    ledger_report.summary(terminalreporter, config)
