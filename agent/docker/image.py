"""The docker CLI, called with argument lists and timeouts (never a shell): ECR login, build,
tag, push, and reading image IDs and pushed digests as JSON.

The builder keeps its Docker data between runs, so layer caching makes an unchanged commit
rebuild to the same image ID; comparing that ID with what the services run is how the agent
decides a build has nothing to deploy.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from agent import AgentError
from agent.docker.build_failure import ANSI, StepOutput, failure_reason, timeout_reason
from agent.docker.imageref import ImageRefError, parse_image
from agent.docker.streaming import Finished, run_streaming

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_ecr import ECRClient
else:
    ECRClient = Any

BUILD_TIMEOUT = 3600
PUSH_TIMEOUT = 1800
QUICK_TIMEOUT = 120
TIMEOUT_TAIL_LINES = 5


class ImageError(AgentError):
    """A docker step failed; the message names the step, the image and docker's own reason."""


class DockerTimeout(ImageError):
    """Docker ran past its deadline and was killed; the message ends with the last lines it printed."""

    def __init__(self, message: str, what: str, seconds: float) -> None:
        super().__init__(message)
        self.what = what
        self.seconds = seconds


def image_tag(sha: str, now: datetime | None = None, taken: Collection[str] = ()) -> str:
    """``<UTC yyyymmddHHMMSS>-<short sha>``: sorts by time, and names the commit.

    ``taken``: tags that must not be reused, those the services run now. A second build of one commit within
    the same second (a forced redeploy right after a deploy) would otherwise get the running image's tag, and
    the deploy would find nothing to change; the next free second keeps the order by time."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    while (tag := f"{moment:%Y%m%d%H%M%S}-{sha[:7]}") in taken:
        moment += timedelta(seconds=1)
    return tag


class Docker:
    """Runs ``docker`` with the given environment (DOCKER_HOST, DOCKER_CONFIG) and sends its
    output to ``detail`` (the build log), never to the console."""

    def __init__(self, env: Mapping[str, str] | None = None, detail: Callable[[str], None] = lambda line: None,
                 binary: str = "docker", build_timeout: float = BUILD_TIMEOUT) -> None:
        self.env = dict(os.environ, **(env or {}))
        self.detail = detail
        self.binary = binary
        self.build_timeout = build_timeout

    def run(self, what: str, *args: str, stdin: str | None = None, timeout: float = QUICK_TIMEOUT,
            check: bool = True, observe: Callable[[str], None] | None = None) -> Finished:
        """Stream docker's output to ``detail`` line by line; the result holds only the tail of each stream.

        On timeout docker's process group is killed, and the error ends with the last lines it printed
        (all of them are already in the build log). ``observe`` sees every stdout line too.
        """
        def on_line(stream: str, line: str) -> None:
            if line.strip():
                self.detail(line)
            if observe is not None and stream == "stdout":
                observe(line)

        try:
            done = run_streaming([self.binary, *args], on_line=on_line, timeout=timeout, env=self.env, stdin=stdin)
        except OSError as exc:
            raise ImageError(f"{what}: cannot run docker: {exc}") from exc
        if done.timed_out:
            self.detail(f"docker {args[0]} timed out after {timeout:.0f}s and was killed")
            said = _last_lines(done.stdout + done.stderr, TIMEOUT_TAIL_LINES)
            raise DockerTimeout(f"{what}: docker {args[0]} timed out after {timeout:.0f}s"
                                + (f"; last output: {said}" if said else ""), what, timeout)
        if check and done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or [f"exit status {done.returncode}"]
            raise ImageError(f"{what}: {lines[-1].strip()}")
        return done

    def image_id(self, ref: str) -> str | None:
        """The local image ID of ``ref``, or None when this engine does not have it."""
        proc = self.run(f"inspect {ref}", "image", "inspect", "--format", "{{json .Id}}", ref, check=False)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)

    def build(self, context: Path, dockerfile: Path, tags: Sequence[str], build_args: Sequence[tuple[str, str]] = (),
              target: str = "", cache_from: Sequence[str] = ()) -> str:
        """Build and tag; return the image ID (from --iidfile, not from parsing output). A failure's
        reason carries the failing step's own last lines, build-arg values blanked (agent.docker.build_failure).
        ``cache_from``: local images whose layers the classic builder may reuse (after its own cache) when their
        history matches, e.g. the image the service runs, pulled by a builder that did not build it."""
        with tempfile.TemporaryDirectory(prefix="pushdeploy-iid-") as tmp:
            iidfile = Path(tmp) / "iid"
            args = ["build", "--force-rm", "--file", str(dockerfile), "--iidfile", str(iidfile)]
            for key, value in build_args:
                args += ["--build-arg", f"{key}={value}"]
            if target:
                args += ["--target", target]
            for ref in cache_from:
                args += ["--cache-from", ref]
            for tag in tags:
                args += ["--tag", tag]
            what = f"build {tags[0] if tags else context}"
            step = StepOutput()
            values = [v for _, v in build_args]
            try:
                proc = self.run(what, *args, str(context), timeout=self.build_timeout, check=False, observe=step.add)
            except DockerTimeout as exc:  # the step's lines may print a build-arg value: redacted like a failure
                raise ImageError(f"{what}: {timeout_reason(step.text(), exc.seconds, values)}") from exc
            if proc.returncode != 0:
                reason = failure_reason(step.text(), proc.stderr, proc.returncode, values)
                raise ImageError(f"{what}: {reason}")
            return iidfile.read_text().strip()

    def push(self, ref: str) -> None:
        self.run(f"push {ref}", "push", ref, timeout=PUSH_TIMEOUT)

    def pull(self, ref: str) -> None:
        self.run(f"pull {ref}", "pull", "--quiet", ref, timeout=PUSH_TIMEOUT)

    def repo_digest(self, ref: str, name: str) -> str | None:
        """The registry digest recorded for ``name`` (``registry/repository``) after a push."""
        proc = self.run(f"inspect {ref}", "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
        wanted = parse_image(name).name
        for entry in json.loads(proc.stdout) or []:
            try:
                pushed = parse_image(entry)
            except ImageRefError:
                continue  # not ours to read: the digest we want is under our own name
            if pushed.name == wanted and pushed.digest:
                return pushed.digest
        return None

    def login(self, registry: str, username: str, password: str) -> None:
        """The password travels on stdin only: never in argv (visible in ps) nor in any log."""
        self.run(f"login to {registry}", "login", "--username", username, "--password-stdin", registry,
                 stdin=password)


def _last_lines(text: str, count: int) -> str:
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    return " | ".join(line[:200] for line in lines[-count:])


def ecr_login(ecr: ECRClient, docker: Docker, registry_override: str = "") -> str:
    """Log docker in with an ECR token; return the registry host to tag images for.

    With an override (a non-ECR registry such as the local rig's), the same token is presented
    to the override, so the ECR path runs unchanged.
    """
    try:
        data = ecr.get_authorization_token()["authorizationData"][0]
    except (BotoCoreError, ClientError, KeyError, IndexError) as exc:
        raise ImageError(f"ECR get_authorization_token failed: {exc}") from exc
    try:
        username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    except (KeyError, ValueError) as exc:
        raise ImageError("ECR returned an authorization token that is not base64 'user:password'") from exc
    registry = registry_override or urlparse(data.get("proxyEndpoint", "")).netloc
    if not registry:
        raise ImageError("ECR returned no proxyEndpoint and no registry override is set")
    docker.login(registry, username, password)
    return registry
