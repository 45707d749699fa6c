"""The curl helpers sign as GitHub signs (its documented example) and describe a rig branch's real head."""

import json
import os
import subprocess
import sys

import pytest

from localrig.git import github_webhook
from localrig.git.webhook_payloads import ZERO_SHA, RefUpdate, github_push

# docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "d@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "d@example.com", "PATH": os.environ["PATH"]}


def localrig(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "localrig", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True, env=GIT_ENV,
                          timeout=60).stdout.strip()


@pytest.fixture
def run_dir(tmp_path):
    """A rig run directory with a bare repository whose branch has two commits."""
    bare = tmp_path / "run" / "git" / "sample.git"
    git("init", "-q", "--bare", str(bare))
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    for message in ("first", "second: the head"):
        git("-C", str(work), "commit", "-q", "--allow-empty", "-m", message)
    git("-C", str(work), "push", "-q", str(bare), "HEAD:refs/heads/production")
    return tmp_path / "run"


def test_the_signature_is_github_s_documented_example():
    assert github_webhook.signature(GITHUB_SECRET.encode(), GITHUB_PAYLOAD) == GITHUB_SIGNATURE


def test_sign_github_prints_the_header_value_of_the_file_s_exact_bytes(tmp_path):
    body = tmp_path / "payload.json"
    body.write_bytes(GITHUB_PAYLOAD)
    done = localrig("sign-github", "--secret-env", "HOOK_SECRET", str(body), env={"HOOK_SECRET": GITHUB_SECRET})
    assert done.returncode == 0, done.stderr
    assert done.stdout == GITHUB_SIGNATURE + "\n"


def test_sign_github_reads_the_provider_s_secret_from_ssm_by_default(aws, tmp_path, moto_server):
    aws.client("ssm").put_parameter(Name="/pushdeploy/webhooks/github", Value=GITHUB_SECRET, Type="SecureString")
    body = tmp_path / "payload.json"
    body.write_bytes(GITHUB_PAYLOAD)
    done = localrig("sign-github", str(body), env=moto_server.client_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == GITHUB_SIGNATURE


def test_sign_github_without_its_secret_says_so_and_prints_no_signature(tmp_path):
    body = tmp_path / "payload.json"
    body.write_bytes(GITHUB_PAYLOAD)
    done = localrig("sign-github", "--secret-env", "UNSET_SECRET_VARIABLE", str(body))
    assert done.returncode == 1 and done.stdout == ""
    assert "UNSET_SECRET_VARIABLE" in done.stderr


def test_github_payload_is_a_push_of_the_branch_head_over_its_parent(run_dir):
    bare = run_dir / "git" / "sample.git"
    head = git("--git-dir", str(bare), "rev-parse", "production")
    parent = git("--git-dir", str(bare), "rev-parse", "production^")
    done = localrig("github-payload", "--repository", "sample", "--branch", "production",
                    env={"PUSHDEPLOY_RIG_RUN_DIR": str(run_dir)})
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert (payload["ref"], payload["before"], payload["after"]) == ("refs/heads/production", parent, head)
    assert payload["head_commit"]["id"] == head and payload["head_commit"]["message"] == "second: the head"
    assert payload["repository"]["full_name"] == "sample" and payload["pusher"]["name"] == "demo-developer"
    assert payload["created"] is False and payload["deleted"] is False


def test_a_deletion_payload_has_no_head_commit(run_dir):
    bare = run_dir / "git" / "sample.git"
    head = git("--git-dir", str(bare), "rev-parse", "production")
    payload = github_push(bare, "octo/sample", RefUpdate(head, ZERO_SHA, "refs/heads/production"), "dev")
    assert payload["deleted"] is True and payload["head_commit"] is None and payload["commits"] == []
    assert payload["repository"]["name"] == "sample" and payload["repository"]["owner"]["login"] == "octo"


def test_github_payload_for_a_missing_branch_names_it(run_dir):
    done = localrig("github-payload", "--repository", "sample", "--branch", "nope", "--run-dir", str(run_dir))
    assert done.returncode == 1 and done.stdout == ""
    assert "refs/heads/nope" in done.stderr
