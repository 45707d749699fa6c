"""`record` finds the statements to point at the stack's resources by Sid: every Sid it knows
must be in the project's .chalice policy files, or a permission would keep naming a sample ARN."""

from __future__ import annotations

import json

import pytest

from infra.stage_settings import POLICY_RESOURCES
from tests.infra.infra_stacks import REPO

STAGE_OF_KIND = {"pipeline": "prod", "source": "dev"}


@pytest.mark.parametrize("kind", sorted(POLICY_RESOURCES))
def test_every_known_sid_is_in_the_stage_policy_files(kind: str) -> None:
    stage = STAGE_OF_KIND[kind]
    sids = {s.get("Sid") for path in (REPO / ".chalice").glob(f"policy-{stage}-*.json")
            for s in json.loads(path.read_text())["Statement"]}
    assert set(POLICY_RESOURCES[kind]) <= sids
