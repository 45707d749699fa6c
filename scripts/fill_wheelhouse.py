"""Download the wheels `chalice deploy` packages (requirements.txt) into a local folder.

tests/test_chalice_deploy.py runs `chalice deploy` with pip pointed at this folder only
(PIP_NO_INDEX=1, PIP_FIND_LINKS=<folder>), so no test reaches a package index. This script is
the one step that does, run by scripts/setup.sh. It asks pip for what Chalice's packager asks
(chalice/deploy/packager.py): first `pip download -r requirements.txt` for this machine, then
manylinux wheels for the Lambda runtime's ABI and platforms, taken from Chalice's own tables so
the two never disagree.

Usage: .venv/bin/python scripts/fill_wheelhouse.py DEST [REQUIREMENTS]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PIP_TIMEOUT_SECONDS = 600


def lambda_abi_and_platforms() -> tuple[str, list[str]]:
    """The --abi and --platform values Chalice's packager passes pip for this interpreter (x86_64)."""
    from chalice.config import Config
    from chalice.deploy.packager import BaseLambdaDeploymentPackager, DependencyBuilder
    from chalice.utils import OSUtils

    abi = BaseLambdaDeploymentPackager._RUNTIME_TO_ABI[Config().lambda_python_version]
    return abi, DependencyBuilder(OSUtils())._get_pip_platforms(abi)


def pip_download_commands(requirements: Path, dest: Path) -> list[list[str]]:
    abi, platforms = lambda_abi_and_platforms()
    pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
           "-r", str(requirements), "--dest", str(dest)]
    lambda_wheels = ["--only-binary=:all:", "--implementation", "cp", "--abi", abi]
    for platform in platforms:
        lambda_wheels += ["--platform", platform]
    return [pip, pip + lambda_wheels]


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    dest = Path(argv[0])
    requirements = Path(argv[1] if len(argv) == 2 else "requirements.txt")
    if not requirements.is_file():
        print(f"fill_wheelhouse: error: {requirements}: not found", file=sys.stderr)
        return 2
    dest.mkdir(parents=True, exist_ok=True)
    for command in pip_download_commands(requirements, dest):
        done = subprocess.run(command, timeout=PIP_TIMEOUT_SECONDS, check=False)
        if done.returncode != 0:
            print(f"fill_wheelhouse: error: pip download failed ({done.returncode}): {' '.join(command)}",
                  file=sys.stderr)
            return 1
    print(f"fill_wheelhouse: {len(list(dest.glob('*.whl')))} wheels in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
