"""The builder's disk does not fill up: after each build the newest ``keep_images`` tags of the repository
stay, with whatever the services run and the image just built, and the rest is removed; above the size
limit dangling images are pruned. Housekeeping never fails a build."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from agent.builder import build_pipeline
from agent.config import ConfigError, parse_config
from agent.docker.housekeeping import housekeep, local_tags, parse_size, prune
from agent.docker.image import Docker, ImageError
from tests.agent.agentrig import BRANCH, agent_context, docker_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def docker(docker_engine, base_image, tmp_path):
    return Docker({"DOCKER_HOST": docker_engine.host, "DOCKER_CONFIG": str(tmp_path)})


def build_tiny(docker: Docker, tmp: Path, ref: str, label: str) -> str:
    """An image that differs only by a label: no layer to copy, so it is quick even on vfs."""
    context = tmp / f"ctx-{uuid.uuid4().hex[:8]}"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM local/busybox:latest\nLABEL pushdeploy.test={label}\n")
    return docker.build(context, context / "Dockerfile", [ref])


def test_old_tags_go_but_the_newest_the_running_and_latest_stay(docker, tmp_path):
    name = f"hk{uuid.uuid4().hex[:10]}/sample"
    # Built out of order: "newest" is the build time in the tag, not the image's creation time (an image
    # rebuilt from the layer cache keeps the creation time of the first build that made it).
    ids = {tag: build_tiny(docker, tmp_path, f"{name}:{tag}", f"{tag}-{uuid.uuid4().hex}")
           for tag in ("20261105000000-eeeeeee", "20261101000000-aaaaaaa", "20261103000000-ccccccc",
                       "20261102000000-bbbbbbb", "20261104000000-ddddddd")}
    docker.run("tag", "tag", f"{name}:20261105000000-eeeeeee", f"{name}:latest")
    running = ids["20261101000000-aaaaaaa"]
    lines: list[str] = []

    housekeep(docker, name, {running, None}, keep_images=2, cache_limit_mb=10**9, log=lines.append)

    assert sorted(t.tag for t in local_tags(docker, name)) == [
        "20261101000000-aaaaaaa", "20261104000000-ddddddd", "20261105000000-eeeeeee", "latest"]
    assert docker.image_id(ids["20261102000000-bbbbbbb"]) is None  # the image itself is gone, not just its tag
    assert docker.image_id(ids["20261103000000-ccccccc"]) is None
    assert lines == [f"housekeeping image={name} kept=4 removed=2 engine={lines[0].split('engine=')[1]}"]


def test_above_the_size_limit_dangling_images_are_pruned(docker, tmp_path):
    name = f"hk{uuid.uuid4().hex[:10]}/sample"
    marker = uuid.uuid4().hex
    replaced = build_tiny(docker, tmp_path, f"{name}:v1", marker)
    build_tiny(docker, tmp_path, f"{name}:v1", f"{marker}-again")  # the first image loses its tag: dangling
    assert docker.image_id(replaced) == replaced

    # The test engine is shared: scope the prune to this test's images (label), as the builder's own is not.
    after = prune(docker, cache_limit_mb=0, filters=(f"label=pushdeploy.test={marker}",))

    assert docker.image_id(replaced) is None
    assert after >= 0


def test_a_failed_build_step_leaves_no_container_behind(docker, tmp_path):
    marker = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(f"FROM local/busybox:latest\nRUN echo {marker} && exit 7\n")

    with pytest.raises(ImageError):
        docker.build(tmp_path, tmp_path / "Dockerfile", [f"hk{marker[:10]}/failed:1"])

    listed = docker.run("containers", "ps", "--all", "--no-trunc", "--format", "{{json .}}").stdout.splitlines()
    assert not [row for row in map(json.loads, filter(None, listed)) if marker in row["Command"]]


def test_housekeeping_that_fails_is_one_line_and_no_exception(tmp_path):
    broken = Docker({"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    lines: list[str] = []

    housekeep(broken, "registry.example/sample", set(), keep_images=5, cache_limit_mb=10240, log=lines.append)

    assert len(lines) == 1
    assert lines[0].startswith("housekeeping image=registry.example/sample FAILED, the build goes on")


def test_docker_sizes_are_read_as_decimal_units():
    assert parse_size("0B") == 0
    assert parse_size("1.982MB") == 1_982_000
    assert parse_size("12.5GB (40%)") == 12_500_000_000
    assert parse_size("512kB") == 512_000


@pytest.fixture
def pipeline_setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    config.write_text(config.read_text().replace("visibility_timeout_seconds = 30\n",
                                                 "visibility_timeout_seconds = 30\nkeep_images = 1\n"))
    return repo, world, config, registry


def test_after_three_pushes_the_builder_keeps_the_new_image_and_the_one_still_running(pipeline_setup, docker_engine):
    repo, world, config, registry = pipeline_setup
    name = f"{registry.address}/{world.image_repository}"
    ctx = agent_context(config)
    pipeline = ctx.config.pipeline(f"sample/{BRANCH}")
    docker = Docker({"DOCKER_HOST": docker_engine.host})
    results = []
    for n in (2, 3, 4):
        repo.commit({"app.txt": f"hello v{n}\n"}, f"Say hello v{n}")
        results.append(build_pipeline(ctx, pipeline))
        assert results[-1].outcome == "succeeded", results[-1].error

    # while the third build ran, the service still ran the second image: both stay, the first is gone
    assert sorted(t.tag for t in local_tags(docker, name)) == sorted(
        [results[1].image.tag, results[2].image.tag, "latest"])


def _settings(**agent: object) -> dict:
    return {"agent": {"region": "us-east-1", "queue_url": "https://q", "close_topic_arn": "arn:aws:sns:x", **agent},
            "pipelines": [{"repository": "sample", "branch": "production", "source_url": "/src",
                           "image_repository": "production/sample"}]}


def test_the_housekeeping_settings_have_defaults_and_are_checked():
    defaults = parse_config(_settings()).agent
    assert (defaults.keep_images, defaults.build_cache_limit_mb) == (5, 10240)
    assert parse_config(_settings(keep_images=2, build_cache_limit_mb=0)).agent.keep_images == 2
    with pytest.raises(ConfigError, match=r"agent.toml: agent.keep_images: must be >= 1, got 0"):
        parse_config(_settings(keep_images=0))
    with pytest.raises(ConfigError, match=r"agent.build_cache_limit_mb: expected an integer, got a string"):
        parse_config(_settings(build_cache_limit_mb="10GB"))


def test_builds_within_one_second_rank_the_one_latest_points_to_newest():
    from datetime import UTC, datetime

    from agent.docker.housekeeping import LocalTag, _built_at

    when = datetime(2026, 11, 29, 21, 23, 55, tzinfo=UTC)
    first, third = (LocalTag(f"r/s:20261129212355-{sha}", image, when, f"20261129212355-{sha}")
                    for sha, image in (("fffffff", "sha256:1"), ("0000000", "sha256:3")))
    ranked = sorted([first, third], key=lambda t: _built_at(t, "sha256:3"), reverse=True)
    assert ranked[0] is third
