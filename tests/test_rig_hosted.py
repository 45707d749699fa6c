"""A rig repository moved to a hosted provider: pushes go over the token-guarded git server and fire the
provider's webhook at the real `chalice local`; the token stays out of argv, the remote URL, the agent's
settings, the rig's narration and the delivery log."""

from __future__ import annotations

import subprocess

import pytest

from localrig.git import hosted, webhook_hook
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig

pytestmark = pytest.mark.docker
SPEC = PipelineSpec(repository="octo/app", image_repository="production/app")


@pytest.fixture
def moved(tmp_path, docker_engine, base_image):
    rig = LocalRig(tmp_path / "rig", [SPEC], engine=docker_engine).start()
    try:
        yield rig, hosted.host(rig, SPEC, "github")
    finally:
        rig.stop()


def token(rig: LocalRig, place: hosted.Hosted) -> str:
    return rig.client("ssm").get_parameter(Name=place.token_parameter, WithDecryption=True)["Parameter"]["Value"]


def test_a_push_goes_over_http_and_sends_the_webhook_to_chalice_local(moved):
    rig, place = moved
    rig.commit(SPEC.repository, "a change")
    sha = rig.push(SPEC.repository, SPEC.branch)

    assert rig.git(rig.bare[SPEC.repository], "rev-parse", f"refs/heads/{SPEC.branch}") == sha
    [delivery] = webhook_hook.delivery_log(place.bare)
    assert delivery["url"] == place.webhook_url and delivery["url"].startswith(rig.chalice_local.url)
    assert delivery["status"] != 0, delivery["answer"]
    assert "git-receive-pack" in (rig.run_dir / "git-http.log").read_text()


def test_the_agent_reads_the_token_from_ssm_by_name(moved):
    rig, place = moved
    settings = rig.agent_config.read_text()
    assert f'source_url = "{place.clone_url}"' in settings
    assert f'source_token = "ssm:{place.token_parameter}"' in settings


def test_the_token_is_nowhere_but_in_ssm_and_the_server(moved):
    rig, place = moved
    secret = token(rig, place)
    rig.commit(SPEC.repository, "another change")
    rig.push(SPEC.repository, SPEC.branch)
    work = rig.work[SPEC.repository]
    remote = subprocess.run(["git", "-C", str(work), "remote", "get-url", "origin"], capture_output=True, text=True,
                            check=True, timeout=30).stdout
    assert remote.strip() == place.clone_url
    assert secret not in (work / ".git" / "config").read_text()
    assert secret not in rig.agent_config.read_text()
    assert all(secret not in f"{e.text} {e.data}" for e in rig.events)
    assert secret not in (place.bare / webhook_hook.LOG_NAME).read_text()
    assert secret not in (rig.run_dir / "git-http.log").read_text()


def test_without_the_token_the_server_refuses_the_push(moved):
    rig, place = moved
    work = rig.work[SPEC.repository]
    done = subprocess.run(["git", "-C", str(work), "push", place.clone_url, "HEAD:refs/heads/intruder"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                                           "GIT_TERMINAL_PROMPT": "0"})
    assert done.returncode != 0 and "401" in done.stderr + (rig.run_dir / "git-http.log").read_text()
