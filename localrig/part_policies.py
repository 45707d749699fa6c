"""TEMPORARY stand-in for the lead's localrig/part_policies.py (HELPERS12.md's interface), so the principals
branch runs before it lands: the .chalice policy files as they are (their resources are widened to "*" anyway)
and the pipeline stack's BuilderRole policies from moto. Replaced by main's module at the merge."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PartPolicy:
    part: str
    documents: tuple[dict[str, Any], ...]


def part_policies(client: Callable[[str], Any], stack_name: str) -> dict[str, PartPolicy]:
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    found: dict[str, PartPolicy] = {}
    for stage in ("dev", "prod"):
        for function, settings in config["stages"][stage].get("lambda_functions", {}).items():
            doc = json.loads((REPO_ROOT / ".chalice" / settings["iam_policy_file"]).read_text())
            found[function] = PartPolicy(function, (doc,))
    resources = client("cloudformation").list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    name = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "BuilderRole").split("/")[-1]
    iam = client("iam")
    docs = tuple(_document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
                 for p in iam.list_role_policies(RoleName=name)["PolicyNames"])
    found["builder"] = PartPolicy("builder", docs)
    return found


def _document(value: Any) -> dict[str, Any]:
    import ast

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = ast.literal_eval(value)  # moto keeps a template's policy as Python's repr
    return dict(value, Statement=[st for st in value.get("Statement", []) if st])


def widened(document: dict[str, Any]) -> dict[str, Any]:
    statements = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        kept = {k: v for k, v in statement.items() if k not in ("Resource", "NotResource", "Condition")}
        statements.append(dict(kept, Resource="*"))
    return {"Version": "2012-10-17", "Statement": statements}
