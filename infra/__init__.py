"""Provision pushdeploy from the CloudFormation templates in this directory and carry the stacks'
outputs into the places that need them (Chalice stage settings, policy files, agent settings),
so nobody copies an ARN by hand. ``python -m infra --help`` lists the commands."""

from __future__ import annotations


class InfraError(RuntimeError):
    """Something the operator must fix; the message names the stack, file or key."""


class StackError(InfraError):
    """A stack is missing, failed, or lacks an output the command needs."""


class ProjectFileError(InfraError):
    """A project file (.chalice/config.json, a policy file, the agent settings) is missing or wrong."""
