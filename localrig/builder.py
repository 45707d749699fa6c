"""The EC2 builder stand-in: the instance lives in moto, its "machine" is a child process.

When the instance enters ``running`` (build_start started it) the rig boots it by launching the
agent, as systemd would at boot. When the instance leaves ``running`` (close stopped it) the rig
ends the process as a machine stop would: SIGTERM, then SIGKILL after a grace period.

The agent is launched with ``--exit-when-idle``: it exits after asking to be stopped. If the
close function then refused to stop the instance because requests are still queued, a real
agent would still be serving the queue; the rig keeps that promise by booting the agent again
while the instance is running and the queue is not empty.

That promise covers a clean exit only. An agent that dies (non-zero exit, killed) is not booted
again until the machine itself boots again, as on a real builder (the unit has ``Restart=no``);
instead the rig runs the unit's ``ExecStopPost`` command (``stop_hook``) with systemd's
``SERVICE_RESULT``/``EXIT_CODE``/``EXIT_STATUS``, so the EndOfRun a real machine sends is sent.
The hook is not run after a clean exit or when the rig ends the agent for an instance stop: there
its ``--if-service-failed`` sends nothing, or the machine is going down anyway.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]


@dataclass
class Boot:
    number: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float = field(default_factory=time.time)
    ended: float | None = None
    exit_code: int | None = None
    ended_by: str = ""


class BuilderMachine:
    """Watches the builder instance in moto and runs/ends the agent process to match its state."""

    def __init__(self, ec2: Any, sqs: Any, instance_id: str, queue_url: str, argv: list[str],
                 env: dict[str, str], log_dir: Path, cwd: Path | None = None, grace: float = 10.0,
                 poll: float = 0.05, on_event: Listener | None = None, stop_hook: list[str] | None = None) -> None:
        self.ec2, self.sqs = ec2, sqs
        self.instance_id, self.queue_url = instance_id, queue_url
        self.argv, self.env, self.cwd, self.stop_hook = argv, env, cwd, stop_hook
        self.agent_died = False  # on this boot of the machine: Restart=no, nothing starts it again
        self.log_dir, self.grace, self.poll = log_dir, grace, poll
        self.on_event = on_event or (lambda kind, data: None)
        self.boots: list[Boot] = []
        self.state = "unknown"
        self.steps = 0  # watch steps done: lets a test wait until the watch has seen a change
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="builder", daemon=True)

    def start(self) -> BuilderMachine:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and end any agent still running (the rig is shutting down)."""
        self._stop.set()
        self._thread.join(timeout=30)
        current = self.current()
        if current is not None:
            self._end(current, "rig shutdown")

    def current(self) -> Boot | None:
        with self._lock:
            if self.boots and self.boots[-1].ended is None:
                return self.boots[-1]
        return None

    def log_text(self) -> str:
        return "".join(boot.log_path.read_text(errors="replace") for boot in self.boots if boot.log_path.exists())

    def freeze_when(self, matches: Callable[[str], bool], timeout: float) -> Boot:
        """Freeze the agent (SIGSTOP to its process group) as soon as a line of its output matches.

        Builds of the tiny sample take well under a second, faster than a person pushes; freezing
        the machine at a known step is how a story makes pushes land *while* a build runs,
        deterministically. ``thaw()`` lets it continue exactly where it was.
        """
        boot = self._signal_when(matches, timeout, signal.SIGSTOP)
        self.on_event("agent-frozen", {"boot": boot.number})
        return boot

    def kill_when(self, matches: Callable[[str], bool], timeout: float) -> Boot:
        """Kill the agent (SIGKILL to its process group) as soon as a line of its output matches: a crash
        or an OOM kill at a known step. The machine keeps running; the watch then plays systemd's part."""
        boot = self._signal_when(matches, timeout, signal.SIGKILL)
        self.on_event("agent-killed", {"boot": boot.number})
        return boot

    def _signal_when(self, matches: Callable[[str], bool], timeout: float, signum: signal.Signals) -> Boot:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            boot = self.current()
            if boot is not None and boot.log_path.exists():
                lines = boot.log_path.read_text(errors="replace").splitlines()
                if any(matches(line) for line in lines):
                    os.killpg(boot.popen.pid, signum)
                    return boot
            time.sleep(0.005)
        raise TimeoutError(f"no agent output line matched within {timeout:.0f}s")

    def thaw(self, boot: Boot) -> None:
        if boot.popen.poll() is None:
            os.killpg(boot.popen.pid, signal.SIGCONT)
            self.on_event("agent-thawed", {"boot": boot.number})

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # noqa: BLE001 - keep watching; report what went wrong
                self.on_event("watch-error", {"error": str(exc)})
            self._stop.wait(self.poll)

    def _step(self) -> None:
        state = self._instance_state()
        started = state == "running" and self.state != "running"
        if state != self.state:
            self.on_event("instance-state", {"instance": self.instance_id, "from": self.state, "to": state})
            self.state = state
        if started:
            self.agent_died = False  # a fresh boot of the machine starts the unit again
        current = self.current()
        if current is not None and current.popen.poll() is not None:
            self._reap(current, "agent exited")
            self._after_exit(current)
            current = None
        if state == "running" and current is None and (started or (not self.agent_died and self._queue_depth() > 0)):
            self._boot()
        elif state in ("stopping", "stopped", "shutting-down", "terminated") and current is not None:
            self._end(current, f"instance {state}")
        self.steps += 1

    def _instance_state(self) -> str:
        return instance_state(self.ec2, self.instance_id)

    def _queue_depth(self) -> int:
        return queue_depth(self.sqs, self.queue_url)

    def _boot(self) -> None:
        number = len(self.boots) + 1
        log_path = self.log_dir / f"agent-{number}.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.cwd, start_new_session=True)
        with self._lock:
            self.boots.append(Boot(number, popen, log_path))
        self.on_event("agent-started", {"boot": number, "pid": popen.pid, "log": str(log_path)})

    def _end(self, boot: Boot, why: str) -> None:
        if boot.popen.poll() is None:
            os.killpg(boot.popen.pid, signal.SIGTERM)
            try:
                boot.popen.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                os.killpg(boot.popen.pid, signal.SIGKILL)
                boot.popen.wait(timeout=self.grace)
                why += " (SIGKILL after grace)"
        self._reap(boot, why)

    def _after_exit(self, boot: Boot) -> None:
        """What systemd does when the unit's process ends by itself: nothing more after success; after a
        failure, no restart (Restart=no) and the ExecStopPost hook, with the variables systemd sets."""
        code = boot.exit_code or 0
        if code == 0:
            return
        self.agent_died = True
        if not self.stop_hook:
            return
        if code > 0:
            result = {"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": str(code)}
        else:
            result = {"SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": signal.Signals(-code).name[3:]}
        with open(boot.log_path, "ab") as log:
            hook = subprocess.run(self.stop_hook, stdout=log, stderr=subprocess.STDOUT, env=dict(self.env, **result),
                                  cwd=self.cwd, timeout=120, check=False)
        self.on_event("stop-hook", {"boot": boot.number, "exit_code": hook.returncode, **result})

    def _reap(self, boot: Boot, why: str) -> None:
        with self._lock:
            boot.ended, boot.exit_code, boot.ended_by = time.time(), boot.popen.returncode, why
        self.on_event("agent-ended", {"boot": boot.number, "exit_code": boot.exit_code, "why": why})


def instance_state(ec2: Any, instance_id: str) -> str:
    """The instance's state name in EC2 (running, stopping, stopped...)."""
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Requests in the queue, waiting or in flight: a request being built still counts as work."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
