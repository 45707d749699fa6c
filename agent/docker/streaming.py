"""Run a tool (docker) and hand each output line on as it comes, keeping only a bounded tail.

A build may print hundreds of megabytes over an hour; holding that in memory (what
``subprocess.run(capture_output=True)`` does) can take the agent down with the builder's RAM, and a
timed-out build used to lose everything it had printed. Here every line goes to the sink (the build
log) at once, only the last ``TAIL_LINES`` / ``TAIL_BYTES`` per stream stay in memory for the failure
reason, and a timeout kills the whole process group and still returns that tail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

TAIL_LINES = 200
TAIL_BYTES = 64 * 1024
MAX_LINE_BYTES = 64 * 1024  # a longer "line" (no newline for megabytes) is handed on in pieces
_JOIN_SECONDS = 10


@dataclass(frozen=True)
class Finished:
    """How the command ended; ``stdout``/``stderr`` are only the last lines of each stream."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


class Tail:
    """The last lines of a stream, bounded in both line count and characters."""

    def __init__(self, max_lines: int = TAIL_LINES, max_bytes: int = TAIL_BYTES) -> None:
        self.max_bytes = max_bytes
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.size = 0

    def add(self, line: str) -> None:
        if len(self.lines) == self.lines.maxlen:
            self.size -= len(self.lines[0])
        self.lines.append(line)
        self.size += len(line)
        while self.size > self.max_bytes and len(self.lines) > 1:
            self.size -= len(self.lines.popleft())

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def run_streaming(argv: Sequence[str], *, on_line: Callable[[str, str], None], timeout: float,
                  env: Mapping[str, str] | None = None, stdin: str | None = None) -> Finished:
    """Run ``argv`` (no shell); call ``on_line(stream, line)`` for every stdout/stderr line as it comes.

    ``stdin`` is written to the process and never logged (the docker login password travels this way).
    Raises OSError when the program cannot be started. Whatever interrupts the wait (timeout,
    SIGTERM's exception, Ctrl-C), the process group is killed before this returns or raises.
    """
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env) if env else None,
                            start_new_session=True)
    tails = {"stdout": Tail(), "stderr": Tail()}
    lock = threading.Lock()
    readers = [threading.Thread(target=_pump, args=(name, pipe, tails[name], on_line, lock), daemon=True,
                                name=f"pump-{name}-{proc.pid}")
               for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        if stdin is not None and proc.stdin is not None:
            _feed(proc.stdin, stdin)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        for reader in readers:
            reader.join(_JOIN_SECONDS)  # a grandchild holding the pipe must not hang the agent
    return Finished(proc.returncode, tails["stdout"].text(), tails["stderr"].text(), timed_out)


def _feed(pipe: IO[bytes], text: str) -> None:
    try:
        pipe.write(text.encode())
        pipe.close()
    except BrokenPipeError:
        pass  # the program exited without reading: its exit status says why


def _pump(name: str, pipe: IO[bytes] | None, tail: Tail, on_line: Callable[[str, str], None],
          lock: threading.Lock) -> None:
    assert pipe is not None
    with pipe:
        for raw in iter(lambda: pipe.readline(MAX_LINE_BYTES), b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            tail.add(line)
            with lock:  # sinks (the build log's buffer) are not thread-safe
                try:
                    on_line(name, line)
                except Exception:  # noqa: BLE001 - keep draining: a full pipe would block the tool forever
                    pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
