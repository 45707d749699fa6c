"""The source of one pipeline: a persistent git clone in the cache directory.

Only the pipeline's branch is fetched (the seed pulled a prepared clone in place, which breaks on
a force-push or a dirty tree); the fetched head is checked out detached and the tree cleaned, so
the build sees exactly the commit it reports. The last deployed commit is remembered beside the
clone so the result can list what a deploy brings.

Only the fetch talks to the remote, so only the fetch gets credentials (agent/git/credentials.py),
and every message about it names the pipeline and the URL without any credential in it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from agent import AgentError
from agent.git.credentials import CredentialError, GitAuth, GitCredentials, without_credentials
from chalicelib.contracts import CommitInfo

GIT_TIMEOUT = 600
MAX_COMMITS = 50
_SEP = "\x1f"


class SourceError(AgentError):
    """A git step failed; the message names the pipeline, the command and git's own reason."""


@dataclass(frozen=True)
class SourceInfo:
    sha: str
    author: str
    subject: str
    commits: tuple[CommitInfo, ...]  # newest first: since the last deployed commit (or just this one)
    workdir: Path

    @property
    def short_sha(self) -> str:
        return self.sha[:7]


def _is_local_path(url: str) -> bool:
    """A relative local path must not be resolved against the clone's own directory."""
    return "://" not in url and "::" not in url and os.path.exists(url)


class GitSource:
    def __init__(self, cache_dir: str | os.PathLike[str], pipeline_id: str, url: str, branch: str,
                 timeout: float = GIT_TIMEOUT, credentials: GitCredentials | None = None) -> None:
        self.pipeline_id = pipeline_id
        self.url = os.path.abspath(url) if _is_local_path(url) else url
        self.shown_url = without_credentials(self.url)
        self.credentials = credentials
        self.branch = branch
        self.timeout = timeout
        self.home = Path(cache_dir) / "pipelines" / quote(pipeline_id, safe="")
        self.workdir = self.home / "repo"
        self.deployed_file = self.home / "last-deployed"

    def fetch(self, commit: str | None = None) -> SourceInfo:
        """Fetch the branch and check out its head (or ``commit``, which must be on the fetched branch).

        Every git call is a process start, and the second fetch of a cached clone is mostly
        process starts: so the URL is fetched directly (no remote bookkeeping) and one ``log``
        reads sha, author and subject together.
        """
        self._ensure_clone()
        remote_ref = f"refs/remotes/origin/{self.branch}"
        with self._auth() as auth:
            proc = self._run("fetch", "--no-tags", self.url, f"+refs/heads/{self.branch}:{remote_ref}", auth=auth)
            if proc.returncode != 0:
                reason = auth.scrub(_fetch_reason(proc)).replace(self.url, self.shown_url)
                raise SourceError(f"{self.pipeline_id}: git fetch failed: {reason} (source {self.shown_url})")
        target = remote_ref if commit is None else self._commit_on_branch(commit, remote_ref)
        self._git("checkout", "--force", "--detach", target)
        self._git("clean", "-ffdx")
        sha, author, subject = self._git("log", "-1", f"--format=%H{_SEP}%an{_SEP}%s", "HEAD").split(_SEP, 2)
        head = CommitInfo(sha=sha, subject=subject, author=author)
        return SourceInfo(sha, author, subject, self._commits_since_deployed(head), self.workdir)

    def last_deployed(self) -> str | None:
        try:
            text = self.deployed_file.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def mark_deployed(self, sha: str) -> None:
        tmp = self.deployed_file.with_suffix(".tmp")
        tmp.write_text(sha + "\n")
        tmp.replace(self.deployed_file)

    def _ensure_clone(self) -> None:
        if (self.workdir / ".git").is_dir():
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._git("init", "--quiet")

    def _commit_on_branch(self, commit: str, branch_ref: str) -> str:
        try:
            sha = self._git("rev-parse", "--verify", f"{commit}^{{commit}}")
        except SourceError:
            raise SourceError(f"{self.pipeline_id}: commit {commit} not found after fetching {self.branch}") from None
        if not self._is_ancestor(sha, branch_ref):  # a commit is its own ancestor: the head passes
            raise SourceError(f"{self.pipeline_id}: commit {commit} is not on branch {self.branch}")
        return sha

    def _is_ancestor(self, older: str, newer: str) -> bool:
        proc = self._run("merge-base", "--is-ancestor", older, newer)
        return proc.returncode == 0

    def _commits_since_deployed(self, head: CommitInfo) -> tuple[CommitInfo, ...]:
        last = self.last_deployed()
        if last == head.sha:
            return ()
        if last is None:
            return (head,)
        since = self._run("log", f"--max-count={MAX_COMMITS}", f"--format=%H{_SEP}%an{_SEP}%s", f"{last}..{head.sha}")
        if since.returncode != 0:  # the last deployed commit is gone (force-push, new clone): list the head only
            return (head,)
        commits = []
        for line in filter(None, since.stdout.strip().splitlines()):
            full, author, subject = line.split(_SEP, 2)
            commits.append(CommitInfo(sha=full, subject=subject, author=author))
        return tuple(commits) or (head,)  # an older commit than the deployed one (a pinned build): list it

    @contextmanager
    def _auth(self) -> Iterator[GitAuth]:
        if self.credentials is None:
            yield GitAuth()
            return
        try:
            with self.credentials.for_url(self.url) as auth:
                yield auth
        except CredentialError as exc:
            raise SourceError(f"{self.pipeline_id}: credentials for {self.shown_url}: {exc}") from None

    def _run(self, *args: str, auth: GitAuth | None = None) -> subprocess.CompletedProcess[str]:
        auth = auth or GitAuth()
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C", **dict(auth.env))
        try:
            return subprocess.run(["git", *auth.argv(), "-C", str(self.workdir), *args], capture_output=True,
                                  text=True, timeout=self.timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"{self.pipeline_id}: git {args[0]} timed out after {self.timeout:.0f}s") from exc
        except OSError as exc:
            raise SourceError(f"{self.pipeline_id}: cannot run git: {exc}") from exc

    def _git(self, *args: str) -> str:
        proc = self._run(*args)
        if proc.returncode != 0:
            reason = _last_line(proc)
            raise SourceError(f"{self.pipeline_id}: git {args[0]} failed: {reason}")
        return proc.stdout.strip()


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    return (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]


def _fetch_reason(proc: subprocess.CompletedProcess[str]) -> str:
    """git's ``fatal:`` line and up to two lines before it: the host's own words (``remote: Repository not
    found.``) or ssh's (``Host key verification failed.``) say more than ``fatal:`` alone, and what follows
    it is git's boilerplate (``Please make sure you have the correct access rights``)."""
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    fatal = next((i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))), None)
    if fatal is None:
        return _last_line(proc)[:300]
    return " | ".join(line[:300] for line in lines[max(fatal - 2, 0):fatal + 1])
