"""Each pipeline keeps its own clone; a build sees exactly the branch head it fetched, clean."""

from __future__ import annotations

import pytest

from agent.git.source import GitSource, SourceError
from tests.agent.agentrig import AppRepo, git


@pytest.fixture
def repo(tmp_path) -> AppRepo:
    bare, work = tmp_path / "remote.git", tmp_path / "dev"
    bare.mkdir()
    work.mkdir()
    git(bare, "init", "-q", "--bare")
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", str(bare))
    app = AppRepo(work, bare)
    app.commit({"app.txt": "one\n"}, "first")
    return app


def source(tmp_path, repo: AppRepo, branch: str = "production") -> GitSource:
    return GitSource(tmp_path / "cache", f"sample/{branch}", str(repo.bare), branch)


def test_fetch_checks_out_the_branch_head_detached_with_author_and_subject(tmp_path, repo):
    sha = repo.commit({"app.txt": "two\n"}, "Second change")

    info = source(tmp_path, repo).fetch()

    assert (info.sha, info.author, info.subject) == (sha, "Dev One", "Second change")
    assert (info.workdir / "app.txt").read_text() == "two\n"
    assert git(info.workdir, "rev-parse", "HEAD") == sha
    assert git(info.workdir, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD"  # detached
    assert info.workdir.is_relative_to(tmp_path / "cache" / "pipelines" / "sample%2Fproduction")


def test_only_the_pipelines_branch_is_fetched(tmp_path, repo):
    repo.commit({"other.txt": "x\n"}, "on another branch", branch="feature/x")

    info = source(tmp_path, repo).fetch()

    refs = git(info.workdir, "for-each-ref", "--format=%(refname)").splitlines()
    assert refs == ["refs/remotes/origin/production"]


def test_a_dirty_tree_from_a_previous_build_is_cleaned(tmp_path, repo):
    src = source(tmp_path, repo)
    first = src.fetch()
    (first.workdir / "app.txt").write_text("edited by a build step\n")
    (first.workdir / "leftover").mkdir()
    (first.workdir / "leftover" / "junk.o").write_text("x")

    again = src.fetch()

    assert (again.workdir / "app.txt").read_text() == "one\n"
    assert not (again.workdir / "leftover").exists()


def test_a_force_push_still_builds_the_new_head(tmp_path, repo):
    src = source(tmp_path, repo)
    src.fetch()
    git(repo.work, "reset", "-q", "--hard", "HEAD")
    git(repo.work, "commit", "-q", "--amend", "-m", "rewritten")
    git(repo.work, "push", "-q", "--force", "origin", "HEAD:refs/heads/production")

    assert src.fetch().subject == "rewritten"


def test_commits_since_the_last_deployed_one_are_listed_newest_first(tmp_path, repo):
    src = source(tmp_path, repo)
    src.mark_deployed(src.fetch().sha)
    repo.commit({"a.txt": "a\n"}, "add a")
    repo.commit({"b.txt": "b\n"}, "add b")

    info = src.fetch()

    assert [c.subject for c in info.commits] == ["add b", "add a"]
    assert info.commits[0].sha == info.sha and info.commits[0].author == "Dev One"
    src.mark_deployed(info.sha)
    assert src.fetch().commits == ()
    assert src.last_deployed() == info.sha


def test_a_given_commit_on_the_branch_is_checked_out(tmp_path, repo):
    old = git(repo.work, "rev-parse", "HEAD")
    repo.commit({"app.txt": "two\n"}, "second")

    info = source(tmp_path, repo).fetch(commit=old[:10])

    assert info.sha == old and (info.workdir / "app.txt").read_text() == "one\n"


def test_a_commit_that_is_not_on_the_branch_is_refused(tmp_path, repo):
    other = repo.commit({"x.txt": "x\n"}, "elsewhere", branch="feature")
    src = source(tmp_path, repo)
    with pytest.raises(SourceError, match="not found after fetching production"):
        src.fetch(commit=other)


def test_an_unreachable_remote_names_the_pipeline_and_git_s_reason(tmp_path):
    src = GitSource(tmp_path / "cache", "sample/production", str(tmp_path / "missing.git"), "production")
    with pytest.raises(SourceError, match=r"^sample/production: git fetch failed: .*"):
        src.fetch()


def test_a_missing_branch_is_named(tmp_path, repo):
    with pytest.raises(SourceError, match="sample/release: git fetch failed: .*release"):
        source(tmp_path, repo, "release").fetch()
