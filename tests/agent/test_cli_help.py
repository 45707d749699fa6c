"""Each option's help says what it does in its own command: `diff --service` compares, it deploys nothing."""

from __future__ import annotations

import argparse

from agent.cli import build_parser


def _option_help(command: str, option: str) -> str:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[command]
    return next(a.help for a in parser._actions if option in a.option_strings) or ""


def test_diff_service_help_does_not_say_deploy() -> None:
    text = _option_help("diff", "--service")
    assert "deploy" not in text
    assert "compare" in text


def test_deploy_and_rollback_service_help_name_their_action() -> None:
    assert "deploy to" in _option_help("deploy", "--service")
    assert "roll back" in _option_help("rollback", "--service")
