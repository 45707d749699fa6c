"""Child process for the interrupted-deploy stories: serve the queue once and SIGKILL itself (no
handler, no clean-up, as the OOM killer or a power cut would) when a progress line starts with the
given text.

    python -m tests.agent.killed_mid_deploy CONFIG TEXT
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from agent.runner import Runner
from tests.agent.agentrig import agent_context


def main(config: str, text: str) -> None:
    ctx = agent_context(Path(config))

    def die_at(line: str) -> None:
        if line.split("] ", 1)[-1].startswith(text):
            os.kill(os.getpid(), signal.SIGKILL)

    ctx.progress.sinks.append(die_at)
    Runner(ctx).run(exit_when_idle=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
