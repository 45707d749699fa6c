"""A pipeline whose source is an ssh URL fetches with a deploy key from SSM, through a real sshd that
knows only that key; the host key must match the pinned one; the key never reaches a command line
and its file is gone after the fetch."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from agent.aws import make_clients
from agent.git.credentials import check_source, credentials_for
from agent.git.source import GitSource, SourceError
from localrig.services import ServiceError
from tests.agent.agentrig import AppRepo, make_repo
from tests.git.gitrig import Sshd, auth_temp_dirs, keygen, leaks, sshd_problem, start_sshd


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[AppRepo, Sshd, str]]:
    """The app repository behind sshd, and the deploy key (private text) that may read it."""
    if sshd_problem():
        if os.environ.get("CI"):  # real parts must run in CI (as tests/conftest.py says)
            pytest.fail(f"real part unavailable in CI: {sshd_problem()}", pytrace=False)
        pytest.skip(sshd_problem())
    key, public = keygen(tmp_path / "deploy_key")
    try:
        server = start_sshd(tmp_path, public)
    except ServiceError as exc:
        pytest.fail(f"sshd did not start: {exc}")
    yield make_repo(tmp_path), server, key
    server.stop()


def ssh_source(aws, tmp_path, repo: AppRepo, server: Sshd, key: str, known_hosts: str) -> GitSource:
    aws.client("ssm").put_parameter(Name="/pushdeploy/git/deploy-key", Value=key, Type="SecureString")
    url = server.url(repo.bare)
    auth = check_source(url, {"source_ssh_key": "ssm:/pushdeploy/git/deploy-key", "source_known_hosts": known_hosts})
    return GitSource(tmp_path / "cache", "sample/production", url, "production",
                     credentials=credentials_for(auth, make_clients("us-east-1")))


def test_a_fetch_over_ssh_with_the_deploy_key_from_ssm(aws, served, recorder, scratch, tmp_path):
    repo, server, key = served
    sha = repo.commit({"app.txt": "over ssh\n"}, "Ssh change")

    info = ssh_source(aws, tmp_path, repo, server, key, server.host_key_line).fetch()

    assert info.sha == sha and (info.workdir / "app.txt").read_text() == "over ssh\n"
    ssh_argvs = recorder.argvs("ssh")
    assert ssh_argvs and all("-o IdentitiesOnly=yes" in argv and "-o StrictHostKeyChecking=yes" in argv
                             for argv in ssh_argvs)
    assert f"{scratch}/pushdeploy-git-auth-" in ssh_argvs[0]  # the key file was where we look
    assert leaks(key, git_and_ssh_argv_and_env=recorder.text()) == []
    assert auth_temp_dirs(scratch) == []


def test_a_host_with_another_key_is_refused(aws, served, scratch, tmp_path):
    repo, server, key = served
    _, other = keygen(tmp_path / "impostor_key")
    pinned = f"[127.0.0.1]:{server.port} {' '.join(other.split()[:2])}"

    with pytest.raises(SourceError) as caught:
        ssh_source(aws, tmp_path, repo, server, key, pinned).fetch()

    assert "Host key verification failed" in str(caught.value)
    assert str(caught.value).startswith("sample/production: git fetch failed: ")
    assert leaks(key, error=str(caught.value)) == []
    assert auth_temp_dirs(scratch) == []


def test_a_key_the_server_does_not_know_is_refused(aws, served, scratch, tmp_path):
    repo, server, _ = served
    stranger, _ = keygen(tmp_path / "stranger_key")

    with pytest.raises(SourceError) as caught:
        ssh_source(aws, tmp_path, repo, server, stranger, server.host_key_line).fetch()

    assert "Permission denied (publickey)" in str(caught.value)
    assert leaks(stranger, error=str(caught.value)) == []
    assert auth_temp_dirs(scratch) == []
