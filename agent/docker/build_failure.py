"""Why a ``docker build`` failed, in one line a person can act on.

The classic builder prints a RUN step's own output (stdout and stderr, the latter wrapped in ANSI
colour codes) on docker's stdout, and only "The command '…' returned a non-zero code: N" on
stderr. That line names the command but not what went wrong, so the reason starts with the last
few lines the failing step printed (its own error message), then docker's line.

Step output is whatever the Dockerfile's commands print, and a RUN command can print a build
argument's value (e.g. ``echo "$token"``), so every configured build-arg value is blanked in those
lines before they reach the result, the Slack message and the console. Values shorter than
``MIN_REDACTED_CHARS`` are left alone: blanking "1" or "on" would garble the text and such values
are no secret. Docker's own lines only show the Dockerfile text (``ARG name=default``, the RUN
command as written, unexpanded), never a ``--build-arg`` value, so they are kept as they are.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

MAX_LINES = 3
MAX_LINE_CHARS = 200
MAX_DOCKER_LINE_CHARS = 300
MIN_REDACTED_CHARS = 4
REDACTED = "***"
SEPARATOR = " | "

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_STEP = re.compile(r"^Step \d+/\d+ : ")
_RUN_FAILED = re.compile(r"returned a non-zero code: \d+$")
_BUILDER_LINES = (" ---> ", "Removing intermediate container")


def failure_reason(stdout: str, stderr: str, returncode: int, build_arg_values: Iterable[str] = ()) -> str:
    """One line: the failing RUN step's last output lines, then docker's own reason.

    Other failures (a COPY of a missing file, a Dockerfile syntax error, no such base image) are
    named well by docker's last stderr line alone, which is then the whole reason.
    """
    docker_says = _last_line(stderr) or f"docker build exited with status {returncode}"
    if not _RUN_FAILED.search(docker_says):
        return docker_says
    return SEPARATOR.join([*_step_said(stdout, build_arg_values), _clip(docker_says, MAX_DOCKER_LINE_CHARS)])


def timeout_reason(stdout: str, seconds: float, build_arg_values: Iterable[str] = ()) -> str:
    """A build killed at its deadline: what the running step printed last tells where it hung."""
    said = _step_said(stdout, build_arg_values)
    return f"docker build timed out after {seconds:.0f}s" + (f"; last output: {SEPARATOR.join(said)}" if said else "")


def _step_said(stdout: str, build_arg_values: Iterable[str]) -> list[str]:
    parts = {part for value in build_arg_values for part in (value, *value.splitlines())}  # lines split values
    values = sorted((v for v in parts if len(v) >= MIN_REDACTED_CHARS), key=len, reverse=True)
    return [_clip(_redact(line, values), MAX_LINE_CHARS) for line in failing_step_output(stdout)[-MAX_LINES:]]


class StepOutput:
    """The current step's header and its last lines, fed line by line while the build streams.

    The streamed tail of docker's output may no longer reach back to the failing step's
    ``Step N/M`` line when the step printed a lot; this keeps that line, so the reason still names
    what the step said, with memory bounded by ``KEPT_LINES``.
    """

    KEPT_LINES = 20

    def __init__(self) -> None:
        self.header = ""
        self.lines: deque[str] = deque(maxlen=self.KEPT_LINES)

    def add(self, line: str) -> None:
        if _STEP.match(ANSI.sub("", line)):
            self.header = line
            self.lines.clear()
        else:
            self.lines.append(line)

    def text(self) -> str:
        return "\n".join([self.header, *self.lines])


def failing_step_output(stdout: str) -> list[str]:
    """The non-empty lines the last step printed (the classic builder stops at the failing one),
    without docker's own bookkeeping lines (``---> Running in …``, ``Removing intermediate …``)."""
    lines = [ANSI.sub("", line).rstrip() for line in stdout.splitlines()]
    starts = [i for i, line in enumerate(lines) if _STEP.match(line)]
    if not starts:
        return []
    return [line.strip() for line in lines[starts[-1] + 1:]
            if line.strip() and not line.startswith(_BUILDER_LINES)]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _redact(line: str, values: list[str]) -> str:
    for value in values:
        line = line.replace(value, REDACTED)
    return line


def _clip(text: str, limit: int) -> str:
    """Cut the middle, not the end: docker's line ends with the exit code, a message with its point."""
    if len(text) <= limit:
        return text
    head = (limit - 3) * 2 // 3
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]
