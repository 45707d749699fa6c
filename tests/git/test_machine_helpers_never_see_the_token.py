"""A credential helper the builder's git configuration names (``store`` writes every password it is given
to a plain file) never receives the token: the agent resets the helper list before adding its own."""

from __future__ import annotations

from agent.aws import make_clients
from agent.git.credentials import check_source, credentials_for
from agent.git.source import GitSource
from tests.agent.agentrig import git


def test_a_global_store_helper_gets_nothing(aws, hosted, tmp_path, monkeypatch):
    stored = tmp_path / "git-credentials"
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f"[credential]\n\thelper = store --file {stored}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    aws.client("ssm").put_parameter(Name="/pushdeploy/git/sample", Value=hosted.token, Type="SecureString")
    auth = check_source(hosted.url, {"source_token": "ssm:/pushdeploy/git/sample"})
    source = GitSource(tmp_path / "cache", "sample/production", hosted.url, "production",
                       credentials=credentials_for(auth, make_clients("us-east-1")))

    info = source.fetch()

    assert info.sha == git(hosted.repo.bare, "rev-parse", "production")  # the fetch went through
    assert not stored.exists()
