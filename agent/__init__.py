"""pushdeploy's builder agent: one CLI (``pushdeploy-agent`` / ``python -m agent``) made of small modules.

``AgentError`` is the root of the agent's own errors so the CLI can turn any of them into a
one-line reason and a non-zero exit, while unexpected exceptions still surface as bugs.
Every failure line, argparse's own included, reads ``pushdeploy-agent: error: <reason>`` (argparse's
format), so a script or a person greps one pattern whatever the command.
"""

import argparse
import sys
from typing import NoReturn

PROG = "pushdeploy-agent"
__version__ = "0.1.0"  # agent/pyproject.toml's version (tests/agent/test_cli_version.py keeps them equal)


class AgentError(Exception):
    """A failure the agent understands; the message names what and where."""


def report_error(reason: str, status: int = 1, prog: str = PROG) -> int:
    """Print the one failure line on stderr; return ``status`` for the caller to exit with."""
    print(f"{prog}: error: {reason}", file=sys.stderr, flush=True)
    return status


class CommandParser(argparse.ArgumentParser):
    """argparse names a subcommand's errors ``pushdeploy-agent deploy: error:``; this keeps the command's one
    prefix (``command_name``) for usage errors too. infra and localrig subclass it with their own name."""

    command_name = PROG

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise SystemExit(report_error(message, 2, self.command_name))

