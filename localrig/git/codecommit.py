"""The CodeCommit stand-in: a local bare repository whose push hook fires the repository trigger.

CodeCommit invokes the trigger's Lambda asynchronously with one event per push listing every
updated reference. The bare repository's ``post-receive`` hook does the same: it reads the
pushed refs from stdin, builds that event (``Records[].codecommit.references[]``, the
repository in ``eventSourceARN``) and posts it to the rig's Lambda host, which answers at once.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ZERO = "0" * 40
ACCOUNT_ID = "123456789012"  # moto's default account
TRIGGER_NAME = "pushdeploy-request"


class HookError(RuntimeError):
    """The push could not be turned into a trigger invocation."""


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str


def parse_hook_input(text: str) -> list[RefUpdate]:
    """post-receive stdin: one ``<old> <new> <ref>`` line per updated reference."""
    updates = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or not all(len(sha) == 40 for sha in parts[:2]):
            raise HookError(f"post-receive input line {number}: expected '<old> <new> <ref>', got {line!r}")
        updates.append(RefUpdate(*parts))
    return updates


def trigger_event(repository: str, updates: list[RefUpdate], region: str, pusher: str,
                  account: str = ACCOUNT_ID) -> dict[str, Any]:
    """The CodeCommit repository-trigger event for one push (the shape of fixture 01)."""
    references = []
    for update in updates:
        ref: dict[str, Any] = {"commit": update.new if update.new != ZERO else update.old, "ref": update.ref}
        if update.old == ZERO:
            ref["created"] = True
        if update.new == ZERO:
            ref["deleted"] = True
        references.append(ref)
    now = datetime.now(UTC)
    return {"Records": [{
        "awsRegion": region,
        "codecommit": {"references": references},
        "eventId": str(uuid.uuid4()),
        "eventName": "ReferenceChanges",
        "eventPartNumber": 1,
        "eventSource": "aws:codecommit",
        "eventSourceARN": f"arn:aws:codecommit:{region}:{account}:{repository}",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000",
        "eventTotalParts": 1,
        "eventTriggerConfigId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{repository}/{TRIGGER_NAME}")),
        "eventTriggerName": TRIGGER_NAME,
        "eventVersion": "1.0",
        "userIdentityARN": f"arn:aws:iam::{account}:user/{pusher}",
    }]}


def create_repository(root: Path, name: str, state_file: Path) -> Path:
    """A bare repository ``root/name.git`` whose post-receive hook fires the trigger."""
    path = root / f"{name}.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch", "main", str(path)],
                   check=True, capture_output=True, timeout=30)
    install_hook(path, name, state_file)
    return path


def install_hook(bare: Path, name: str, state_file: Path) -> None:
    """The hook runs this module itself, not ``python -m localrig hook``: rig fidelity. CodeCommit fires its
    trigger on AWS's machines, while the hook runs on the pusher's; the full CLI imports the whole rig (boto3,
    the fault suite: about 0.3 s of CPU), and twenty pushes at once then queued their events behind twenty such
    imports on this 2-core machine, seconds the builder-pool benchmark counted as the pool's."""
    package_root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "localrig.git.codecommit", "--rig-state", str(state_file), "--repository", name]
    hook = bare / "hooks" / "post-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "# pushdeploy local rig: each push becomes a CodeCommit trigger event for the request function\n"
        f"PYTHONPATH={shlex.quote(str(package_root))} exec {shlex.join(argv)}\n"
    )
    hook.chmod(0o755)


def run_hook(state_file: Path, repository: str, stdin_text: str) -> str:
    """Post the push's trigger event to the Lambda host; return the request id it answered."""
    state = json.loads(state_file.read_text())
    updates = parse_hook_input(stdin_text)
    if not updates:
        raise HookError("post-receive got no references")
    pusher = os.environ.get("GIT_PUSHER") or os.environ.get("USER") or "developer"
    event = trigger_event(repository, updates, state["region"], pusher)
    request = urllib.request.Request(f"{state['lambda_url']}/invoke/{state['trigger_function']}",
                                     data=json.dumps(event).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Trigger": "codecommit"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp)["request_id"]
    except OSError as exc:
        raise HookError(f"could not invoke {state['trigger_function']} at {state['lambda_url']}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """``python -m localrig.git.codecommit --rig-state FILE --repository NAME``: the post-receive hook, with the
    standard library only (``python -m localrig hook`` does the same through the rig's CLI)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m localrig.git.codecommit", description="CodeCommit trigger hook")
    parser.add_argument("--rig-state", type=Path, required=True)
    parser.add_argument("--repository", required=True)
    args = parser.parse_args(argv)
    try:
        request_id = run_hook(args.rig_state, args.repository, sys.stdin.read())
    except HookError as exc:
        print(f"pushdeploy trigger: {exc}", file=sys.stderr)
        return 1
    print(f"pushdeploy trigger: request function invoked (request {request_id})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
