"""A real git push into the CodeCommit stand-in fires a CodeCommit trigger event."""

import json
import subprocess

import pytest

from localrig.git import codecommit
from tests.conftest import load_event

GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "d@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "d@example.com", "GIT_PUSHER": "dev", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True,
                          env=GIT_ENV, timeout=60).stdout.strip()


@pytest.fixture
def pushed(httpserver, tmp_path):
    """A bare repository with the hook, its trigger pointed at a real local HTTP server."""
    httpserver.expect_request("/invoke/request", method="POST").respond_with_json({"request_id": "r-1"}, status=202)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"region": "us-east-1", "lambda_url": httpserver.url_for("").rstrip("/"),
                                 "trigger_function": "request"}))
    bare = codecommit.create_repository(tmp_path / "git", "sample", state)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "f").write_text("1")
    git(work, "add", "f")
    git(work, "commit", "-q", "-m", "one")
    git(work, "remote", "add", "origin", str(bare))
    return work, httpserver


def _events(server):
    return [json.loads(req.data) for req, _ in server.log]


def test_pushing_a_new_branch_sends_one_trigger_event_with_the_commit(pushed):
    work, server = pushed
    sha = git(work, "rev-parse", "HEAD")
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production")
    [event] = _events(server)
    record = event["Records"][0]
    assert record["eventSourceARN"] == "arn:aws:codecommit:us-east-1:123456789012:sample"
    assert record["codecommit"]["references"] == [{"commit": sha, "ref": "refs/heads/production", "created": True}]
    assert record["userIdentityARN"].endswith(":user/dev")


def test_the_event_has_every_field_of_a_real_trigger_event(pushed):
    work, server = pushed
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production")
    sample = load_event("01_codecommit_trigger_lambda.awsdocs.json")["Records"][0]
    record = _events(server)[0]["Records"][0]
    assert set(record) == set(sample)
    assert record["eventName"] == "ReferenceChanges"


def test_one_push_of_two_branches_is_one_event_with_two_references(pushed):
    work, server = pushed
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production", "HEAD:refs/heads/staging")
    [event] = _events(server)
    refs = [r["ref"] for r in event["Records"][0]["codecommit"]["references"]]
    assert sorted(refs) == ["refs/heads/production", "refs/heads/staging"]


def test_a_deleted_branch_is_flagged_deleted(pushed):
    work, server = pushed
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production")
    git(work, "push", "-q", "origin", ":refs/heads/production")
    refs = _events(server)[1]["Records"][0]["codecommit"]["references"]
    assert refs[0]["deleted"] is True and len(refs[0]["commit"]) == 40


def test_a_malformed_hook_line_is_named():
    with pytest.raises(codecommit.HookError, match="line 1"):
        codecommit.parse_hook_input("not a ref update\n")


def test_an_unreachable_lambda_host_fails_the_hook_with_the_url(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"region": "us-east-1", "lambda_url": "http://127.0.0.1:9",
                                 "trigger_function": "request"}))
    line = f"{'0' * 40} {'a' * 40} refs/heads/production\n"
    with pytest.raises(codecommit.HookError, match="127.0.0.1:9"):
        codecommit.run_hook(state, "sample", line)


def test_the_hook_fires_the_trigger_without_importing_the_rig(pushed):
    """CodeCommit fires its trigger on AWS's machines: the hook must not cost the pusher's machine an import of the
    whole rig (boto3, the fault suite), which made twenty pushes at once queue their events for seconds."""
    work, server = pushed
    env = dict(GIT_ENV, PYTHONPROFILEIMPORTTIME="1")  # each import the hook makes, on its stderr ("remote: ...")
    push = subprocess.run(["git", "-C", str(work), "push", "origin", "HEAD:refs/heads/production"], check=True,
                          capture_output=True, text=True, env=env, timeout=60)
    imported = [line.rsplit("|", 1)[-1].strip() for line in push.stderr.splitlines() if "import time:" in line]
    assert "urllib.request" in imported, push.stderr[-2000:]  # the variable reached the hook
    assert not [name for name in imported if name.split(".")[0] in ("boto3", "botocore") or name == "localrig.faults"]
    assert len(_events(server)) == 1
