"""cfn-lint passes on every template (scripts/test.sh runs it too; this keeps `pytest` alone honest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.infra_stacks import REPO

TEMPLATES = sorted((REPO / "infra").glob("*.yaml"))
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def test_both_templates_exist() -> None:
    assert [t.name for t in TEMPLATES] == ["pipeline.yaml", "source.yaml"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_passes(template: Path) -> None:
    done = subprocess.run([str(CFN_LINT), str(template)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((REPO / "infra" / "source.yaml").read_text().replace("!GetAtt GitPullRole.Arn",
                                                                           "!GetAtt GitPullRole.Nope"))
    done = subprocess.run([str(CFN_LINT), str(broken)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "Nope" in done.stdout
