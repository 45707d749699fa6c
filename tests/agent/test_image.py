"""The docker CLI steps on the real engine and registry: ECR login through the override, build with
args and target, tags, push, pushed digest; the ECR password never reaches a log; a failed build
says what its failing step said, never a build-arg value."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from agent.docker.image import Docker, ImageError, ecr_login, image_tag

pytestmark = pytest.mark.docker

MULTI_STAGE = """FROM local/busybox:latest AS base
ARG environment=dev
RUN echo "$environment" > /environment
FROM base AS test
RUN echo tested > /tested
FROM base AS release
RUN echo release > /stage
"""


@pytest.fixture
def docker(docker_engine, base_image, tmp_path, monkeypatch):
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    lines: list[str] = []
    return Docker({"DOCKER_HOST": docker_engine.host, "DOCKER_CONFIG": str(config_dir)}, detail=lines.append), lines


def test_the_tag_is_utc_time_and_short_sha():
    moment = datetime(2026, 11, 26, 9, 5, 7, tzinfo=UTC)
    assert image_tag("0123456789abcdef0123456789abcdef01234567", moment) == "20261126090507-0123456"


def test_a_tag_the_services_run_is_not_reused_the_next_free_second_is():
    moment = datetime(2026, 11, 26, 9, 5, 59, tzinfo=UTC)
    taken = {"20261126090559-0123456", "20261126090600-0123456", "20261126090601-fedcba9"}
    assert image_tag("0123456789abcdef", moment, taken) == "20261126090601-0123456"


def test_ecr_login_presents_the_token_to_the_registry_override_without_logging_it(aws, docker, registry, tmp_path):
    runner, lines = docker
    ecr = aws.client("ecr")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]

    assert ecr_login(ecr, runner, registry.address) == registry.address

    auths = json.loads((tmp_path / "docker-config" / "config.json").read_text())["auths"]
    assert registry.address in auths
    assert any("Login Succeeded" in line for line in lines)
    assert not any(password in line for line in lines)


def test_without_an_override_the_registry_is_ecrs_endpoint(aws, docker):
    runner, _ = docker
    with pytest.raises(ImageError, match=r"login to [0-9]{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com"):
        ecr_login(aws.client("ecr"), runner, "")  # moto's endpoint is not a registry: docker says so


def test_build_uses_args_and_target_tags_and_returns_the_image_id(docker, tmp_path, docker_engine):
    runner, lines = docker
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "build.Dockerfile").write_text(MULTI_STAGE)

    context = tmp_path / "ctx"
    image_id = runner.build(context, context / "build.Dockerfile", ["imgtest/app:one", "imgtest/app:latest"],
                            [("environment", "production")], target="test")

    assert image_id.startswith("sha256:")
    assert runner.image_id("imgtest/app:one") == image_id == runner.image_id("imgtest/app:latest")
    out = docker_engine.docker("run", "--rm", "--network", "none", "imgtest/app:one", "cat", "/environment", "/tested")
    assert out.stdout.decode() == "production\ntested\n"
    assert any("Step" in line for line in lines)


def test_an_unknown_image_has_no_id(docker):
    runner, _ = docker
    assert runner.image_id("imgtest/never-built:1") is None


def test_push_records_the_registry_digest(docker, registry, base_image):
    runner, _ = docker
    name = f"{registry.address}/imgtest/pushed"
    runner.run("tag", "tag", base_image, f"{name}:v1")

    runner.push(f"{name}:v1")
    digest = runner.repo_digest(f"{name}:v1", name)

    assert digest.startswith("sha256:") and len(digest) == 71
    assert registry.tags("imgtest/pushed") == ["v1"]


def test_a_failed_build_names_the_image_and_docker_s_reason(docker, tmp_path):
    runner, _ = docker
    (tmp_path / "Dockerfile").write_text("FROM local/busybox:latest\nRUN exit 3\n")
    with pytest.raises(ImageError, match=r"^build imgtest/bad:1: .*returned a non-zero code: 3"):
        runner.build(tmp_path, tmp_path / "Dockerfile", ["imgtest/bad:1"])


# The failing step writes to one stream only: docker relays a step's stdout and stderr through
# separate pipes, so their relative order in its output is not guaranteed. stderr is the harder one
# (the classic builder wraps it in colour codes) and where tools write their errors.
LOUD_FAILURE = """FROM local/busybox:latest
ARG token=not-the-real-one
RUN echo "an earlier step that worked"
RUN (echo "fetching dependencies" && echo "using token $token" && echo "step two of three" \\
    && echo "build failed on purpose: the health check is missing") >&2 && exit 5
"""


def test_a_failed_run_step_s_own_message_leads_the_reason_without_build_arg_values(docker, tmp_path):
    runner, lines = docker
    (tmp_path / "Dockerfile").write_text(LOUD_FAILURE)

    with pytest.raises(ImageError) as caught:
        runner.build(tmp_path, tmp_path / "Dockerfile", ["imgtest/loud:1"], [("token", "s3cr3t-value-42")])

    reason = str(caught.value)
    step_said, docker_said = reason.split(" | The command ")
    assert step_said == ("build imgtest/loud:1: using token *** | step two of three"
                         " | build failed on purpose: the health check is missing")  # the last 3 lines
    assert docker_said.endswith("returned a non-zero code: 5")
    assert "s3cr3t-value-42" not in reason and "\x1b" not in reason and "\n" not in reason
    assert "an earlier step that worked" not in reason  # only the failing step's output
    assert any("s3cr3t-value-42" in line for line in lines)  # the full output still reaches the build log


def test_a_failed_run_step_s_stdout_counts_too(docker, tmp_path):
    runner, _ = docker
    (tmp_path / "Dockerfile").write_text("FROM local/busybox:latest\nRUN echo '3 tests failed' && exit 2\n")
    with pytest.raises(ImageError) as caught:
        runner.build(tmp_path, tmp_path / "Dockerfile", ["imgtest/tests:1"])
    assert str(caught.value) == ("build imgtest/tests:1: 3 tests failed | The command "
                                 "'/bin/sh -c echo '3 tests failed' && exit 2' returned a non-zero code: 2")


def test_a_failed_run_step_that_printed_nothing_gives_docker_s_line(docker, tmp_path):
    runner, _ = docker
    (tmp_path / "Dockerfile").write_text("FROM local/busybox:latest\nRUN echo fine\nRUN false\n")
    with pytest.raises(ImageError) as caught:
        runner.build(tmp_path, tmp_path / "Dockerfile", ["imgtest/quiet:1"])
    assert str(caught.value) == "build imgtest/quiet:1: The command '/bin/sh -c false' returned a non-zero code: 1"


def test_a_failure_outside_a_run_step_is_docker_s_own_reason(docker, tmp_path):
    runner, _ = docker
    (tmp_path / "Dockerfile").write_text("FROM local/busybox:latest\nRUN echo fine\nCOPY missing.txt /\n")
    with pytest.raises(ImageError) as caught:
        runner.build(tmp_path, tmp_path / "Dockerfile", ["imgtest/nocopy:1"])
    reason = str(caught.value)
    assert reason.startswith("build imgtest/nocopy:1: COPY failed") and "missing.txt" in reason
    assert " | " not in reason and "fine" not in reason
