"""`python -m localrig up`: the rig, kept running for `chalice local --stage local` in another terminal.

It starts what the demo starts (moto, Docker, registry, Slack receiver, the Lambda host with the SNS
dispatcher, the builder machine), makes the ``production`` branch of each repository (without a push,
so nothing builds until a webhook or a push asks), prints the exports and writes them to
``<run dir>/local.env`` (and ``<state dir>/local.env``, a link to it, for a fixed path to source). Then
it narrates what the pipeline does until Ctrl-C or SIGTERM, and stops every part before it exits.
"""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

from localrig import services
from localrig.demo import SAMPLE, Narrator, stop_shielded
from localrig.lambdas import local_stage
from localrig.rig import LocalRig, RigError

READY_LINE = "rig ready"  # printed once the exports are written: what scripts and tests wait for


def run_up(state_dir: Path, out: TextIO = sys.stdout, provisioner: str = "cloudformation") -> int:
    narrator = Narrator(out)
    run_dir = state_dir / "runs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-up")
    narrator.banner(f"starting the local rig for `chalice local --stage local` (state in {run_dir})")
    rig = LocalRig(run_dir, [SAMPLE], docker_dir=state_dir / "docker", on_event=narrator, provisioner=provisioner)
    link = state_dir / "local.env"
    signal.signal(signal.SIGTERM, _interrupt)  # its default would end this process and orphan the rig's parts
    try:
        rig.start()
        local_stage.make_branches(rig)
        narrator.flush()
        _print_exports(out, _write_env_file(rig, link), link)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    except (RigError, services.ServiceError) as exc:
        print(f"\nrig stopped: {exc}", file=out, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        narrator.banner("stopping the rig (a chalice local you started keeps running: stop it too)")
        stop_shielded(rig)
        narrator.close()
        _remove_link(link, run_dir)
        print("rig stopped", file=out, flush=True)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends the rig as Ctrl-C does: every part stopped before the process exits."""
    raise KeyboardInterrupt


def _write_env_file(rig: LocalRig, link: Path) -> Path:
    env_file = rig.run_dir / "local.env"
    env_file.write_text(local_stage.env_file_text(rig.local_exports()))
    link.unlink(missing_ok=True)
    link.symlink_to(env_file.resolve())
    return env_file


def _print_exports(out: TextIO, env_file: Path, link: Path) -> None:
    print(f"\n{READY_LINE}. In another terminal, in this checkout:\n", file=out)
    print(f"    source {link}        # = {env_file}", file=out)
    print("    .venv/bin/chalice local --stage local\n", file=out)
    print(f"{env_file} exports:", file=out)
    print(env_file.read_text(), file=out)
    print("Ctrl-C (or SIGTERM) stops the rig.", file=out, flush=True)


def _remove_link(link: Path, run_dir: Path) -> None:
    """The fixed-path env file goes with the rig, unless a newer rig has replaced it meanwhile."""
    if link.is_symlink() and Path(link.readlink()).parent == run_dir.resolve():
        link.unlink()
