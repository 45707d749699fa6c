"""Fixtures shared by the hosted-git credential tests (the parts themselves are in gitrig.py)."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localrig.git import git_http
from localrig.services import ServiceError
from tests.agent.agentrig import AppRepo, make_repo
from tests.git.gitrig import Recorder, make_recorder


@dataclass
class HostedRepo:
    """The app repository served by the authenticated git server, as GitHub would serve it."""

    repo: AppRepo
    server: git_http.GitHttpServer
    token: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/{self.repo.bare.name}"


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[HostedRepo]:
    repo = make_repo(tmp_path)  # the bare repository is tmp_path/codecommit/sample.git
    token = "ghs_" + secrets.token_urlsafe(27)  # the shape of a GitHub App installation token
    try:
        server = git_http.start(repo.bare.parent, token, log_path=tmp_path / "git-http.log")
    except ServiceError as exc:
        pytest.fail(f"the git http server did not start: {exc}")
    yield HostedRepo(repo, server, token)
    server.stop()


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every git and ssh the agent starts from now on is recorded (argv and environment)."""
    rec = make_recorder(tmp_path)
    monkeypatch.setenv("PATH", f"{rec.bin_dir}{os.pathsep}{os.environ['PATH']}")
    return rec


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp directory for this test, so the credential files can be looked for afterwards."""
    root = tmp_path / "system-tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root
