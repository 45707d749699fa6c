"""The end-to-end rig: every stand-in wired together, fresh per test (moto, registry, Lambda host,
git repositories, Slack receiver), on the session's real Docker engine.

A test pushes with git and reads what the pipeline did: results on the close topic, tags in the
registry, the service's revision, the builder's state, the Slack payloads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localrig.provision import PipelineSpec
from localrig.rig import LocalRig

SAMPLE = PipelineSpec(repository="sample", image_repository="production/sample", service="web",
                      family="production-task", container="web")
OTHER = PipelineSpec(repository="other", image_repository="production/other", service="other-web",
                     family="other-task", container="web")


def _rig(tmp_path, docker_engine, pipelines) -> Iterator[LocalRig]:
    rig = LocalRig(tmp_path / "rig", pipelines, engine=docker_engine).start()
    try:
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    """The sample pipeline, ready: nothing built yet, the builder stopped."""
    yield from _rig(tmp_path, docker_engine, [SAMPLE])


@pytest.fixture
def two_pipeline_rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    yield from _rig(tmp_path, docker_engine, [SAMPLE, OTHER])
