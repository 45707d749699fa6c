"""The EC2 builder stand-in: the instance lives in moto, its "machine" is a child process tree.

It plays systemd's part for the agent unit (agent/systemd/pushdeploy-agent.service) and nothing
kinder:

- when the instance enters ``running`` (a start), the machine boots: ``ExecStart`` (``agent run``)
  starts once, with the unit's environment (``EnvironmentFile=-/etc/pushdeploy/agent.env`` is read
  at each start; a missing file is no error, as the ``-`` prefix says);
- ``Restart=no``: whatever way the agent ends while the machine runs (clean exit, error, kill), it is
  not started again until the machine boots again, whatever the build queue holds;
- ``ExecStopPost`` (``stop_hook``) runs after the agent ends by itself, with systemd's
  ``SERVICE_RESULT``/``EXIT_CODE``/``EXIT_STATUS`` (``success``/``exited``/``0`` after a clean exit,
  ``exit-code``/``exited``/``4`` after status 4, ``signal``/``killed``/``KILL`` after a kill); the hook
  itself decides whether to send anything;
- when the instance leaves ``running`` (``stopping``: the OS shuts down), the unit is stopped:
  SIGTERM to the process group, SIGKILL after ``grace`` (``TimeoutStopSec``). After a clean stop (exit
  0, or death by that SIGTERM) the hook would find ``SERVICE_RESULT=success`` and send nothing, so it is
  not run; after the SIGKILL it runs with ``SERVICE_RESULT=timeout``, and when the agent had ended by
  itself with a failure just as the stop began, with that failure, as systemd would.
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
DOWN_STATES = ("stopping", "stopped", "shutting-down", "terminated")


@dataclass
class Boot:
    number: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float = field(default_factory=time.time)
    ended: float | None = None
    exit_code: int | None = None
    ended_by: str = ""


def read_environment_file(path: Path | None) -> dict[str, str]:
    """``KEY=value`` lines as systemd's ``EnvironmentFile=-`` reads them: comments and blank lines skipped,
    surrounding quotes removed, a missing file is an empty environment."""
    if path is None or not path.exists():
        return {}
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def service_result(exit_code: int, timed_out: bool = False) -> dict[str, str]:
    """The variables systemd gives ExecStopPost for a main process that ended with ``exit_code``
    (Popen's: negative = killed by that signal)."""
    if timed_out:
        return {"SERVICE_RESULT": "timeout", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"}
    if exit_code == 0:
        return {"SERVICE_RESULT": "success", "EXIT_CODE": "exited", "EXIT_STATUS": "0"}
    if exit_code > 0:
        return {"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": str(exit_code)}
    return {"SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": signal.Signals(-exit_code).name[3:]}


class BuilderMachine:
    """Watches the builder instance in moto and runs/ends the agent process to match its state."""

    def __init__(self, ec2: Any, instance_id: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path | None = None, grace: float = 10.0, poll: float = 0.05, on_event: Listener | None = None,
                 stop_hook: list[str] | None = None, environment_file: Path | None = None) -> None:
        self.ec2, self.instance_id = ec2, instance_id
        self.argv, self.env, self.cwd, self.stop_hook = argv, env, cwd, stop_hook
        self.environment_file = environment_file
        self.log_dir, self.grace, self.poll = log_dir, grace, poll
        self.on_event = on_event or (lambda kind, data: None)
        self.boots: list[Boot] = []
        self.hook_runs: list[dict[str, Any]] = []
        self.state = "unknown"
        self.transitions: list[tuple[float, str]] = []  # (when the watch saw it, state entered), in order
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
            self._end(current, "rig shutdown", hook=False)

    def current(self) -> Boot | None:
        with self._lock:
            if self.boots and self.boots[-1].ended is None:
                return self.boots[-1]
        return None

    def running_seconds(self, until: float | None = None) -> float:
        """How long the instance has been pending or running (what EC2 bills), as the watch saw it, up to
        ``until`` (default now)."""
        end = time.time() if until is None else until
        total = 0.0
        for (at, state), (left, _) in zip(self.transitions, [*self.transitions[1:], (end, "")], strict=True):
            if state in ("pending", "running"):
                total += max(0.0, min(left, end) - at)
        return total

    def log_text(self) -> str:
        return "".join(boot.log_path.read_text(errors="replace") for boot in self.boots if boot.log_path.exists())

    def freeze_when(self, matches: Callable[[str], bool], timeout: float) -> Boot:
        """Freeze the agent (SIGSTOP to its process group) as soon as a line of its output matches.

        Builds of the tiny sample take well under a second, faster than a person pushes; freezing
        the machine at a known step is how a story makes pushes land *while* a build runs,
        deterministically. ``thaw()`` lets it continue exactly where it was.
        """
        return self._signal_when(matches, timeout, signal.SIGSTOP)

    def kill_when(self, matches: Callable[[str], bool], timeout: float) -> Boot:
        """Kill the agent (SIGKILL to its process group) as soon as a line of its output matches: a crash
        or an OOM kill at a known step. The machine keeps running; the watch then plays systemd's part."""
        return self._signal_when(matches, timeout, signal.SIGKILL)

    def _signal_when(self, matches: Callable[[str], bool], timeout: float, signum: signal.Signals) -> Boot:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            boot = self.signal_if(matches, signum)
            if boot is not None:
                return boot
            time.sleep(0.005)
        raise TimeoutError(f"no agent output line matched within {timeout:.0f}s")

    def signal_if(self, matches: Callable[[str], bool], signum: signal.Signals) -> Boot | None:
        """Signal the running agent's process group if a line of its output matches (SIGSTOP and SIGKILL are
        announced as ``agent-frozen``/``agent-killed``); None when no line does. One look, no waiting: a pool
        asks each of its machines in turn."""
        boot = self.current()
        if boot is None or not boot.log_path.exists():
            return None
        if not any(matches(line) for line in boot.log_path.read_text(errors="replace").splitlines()):
            return None
        os.killpg(boot.popen.pid, signum)
        announced = {signal.SIGSTOP: "agent-frozen", signal.SIGKILL: "agent-killed"}.get(signum)
        if announced:
            self.on_event(announced, {"boot": boot.number, "at": time.time()})
        return boot

    def thaw(self, boot: Boot) -> None:
        if boot.popen.poll() is None:
            os.killpg(boot.popen.pid, signal.SIGCONT)
            self.on_event("agent-thawed", {"boot": boot.number, "at": time.time()})

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # noqa: BLE001 - keep watching; report what went wrong
                self.on_event("watch-error", {"error": str(exc)})
            self._stop.wait(self.poll)

    def _step(self) -> None:
        state = instance_state(self.ec2, self.instance_id)
        seen = time.time()  # the change happened within one poll (``poll``) before this
        booted = state == "running" and self.state != "running"
        if state != self.state:
            self.on_event("instance-state", {"instance": self.instance_id, "from": self.state, "to": state,
                                            "at": seen})
            self.state = state
            self.transitions.append((seen, state))
        current = self.current()
        if current is not None and current.popen.poll() is not None:
            self._reap(current, "agent exited")
            self._stop_post(current, service_result(current.exit_code or 0))
            current = None
        if booted and current is None:
            self._boot()
        elif state in DOWN_STATES and current is not None:
            self._end(current, f"instance {state}")
        self.steps += 1

    def _boot(self) -> None:
        number = len(self.boots) + 1
        log_path = self.log_dir / f"agent-{number}.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self._unit_env(),
                                     cwd=self.cwd, start_new_session=True)
        with self._lock:
            self.boots.append(Boot(number, popen, log_path))
        self.on_event("agent-started", {"boot": number, "pid": popen.pid, "log": str(log_path),
                                        "at": self.boots[-1].started})

    def _unit_env(self) -> dict[str, str]:
        return dict(self.env, **read_environment_file(self.environment_file))

    def shell_env(self) -> dict[str, str]:
        """What an operator's shell on this machine has, for commands such as ``pushdeploy-agent history``: the
        unit's environment, so the instance's role (through its metadata service) and its settings."""
        return self._unit_env()

    def _end(self, boot: Boot, why: str, hook: bool = True) -> None:
        """Stop the unit as a shutdown does: SIGTERM, SIGKILL after the grace period (then the hook runs)."""
        timed_out = False
        if boot.popen.poll() is None:
            os.killpg(boot.popen.pid, signal.SIGTERM)
            try:
                boot.popen.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                os.killpg(boot.popen.pid, signal.SIGKILL)
                boot.popen.wait(timeout=self.grace)
                why += " (SIGKILL after grace)"
                timed_out = True
        self._reap(boot, why)
        code = boot.exit_code or 0
        if hook and (timed_out or code not in (0, -signal.SIGTERM)):
            # it ended by itself (e.g. status 4) as the stop began, or was killed: systemd reports that
            self._stop_post(boot, service_result(code, timed_out=timed_out))

    def _stop_post(self, boot: Boot, result: dict[str, str]) -> None:
        """ExecStopPost, with the variables systemd sets; it runs whatever the result (the hook decides)."""
        if not self.stop_hook:
            return
        with open(boot.log_path, "ab") as log:
            hook = subprocess.run(self.stop_hook, stdout=log, stderr=subprocess.STDOUT,
                                  env=dict(self._unit_env(), **result), cwd=self.cwd, timeout=120, check=False)
        run = {"boot": boot.number, "exit_code": hook.returncode, **result, "at": time.time()}
        self.hook_runs.append(run)
        self.on_event("stop-hook", run)

    def _reap(self, boot: Boot, why: str) -> None:
        with self._lock:
            boot.ended, boot.exit_code, boot.ended_by = time.time(), boot.popen.returncode, why
        self.on_event("agent-ended", {"boot": boot.number, "exit_code": boot.exit_code, "why": why, "at": boot.ended})


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
