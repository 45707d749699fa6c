"""Builder setup: the install script (checked statically and in --dry-run for both distributions),
the systemd unit (its command lines parse with the agent's own CLI), and the package itself
(a wheel built from agent/pyproject.toml runs outside the repository)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agent.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "agent" / "install.sh"
UNIT = ROOT / "agent" / "systemd" / "pushdeploy-agent.service"
OS_RELEASES = {
    "amazon": 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n',
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "ubuntu": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
}


def install(tmp_path: Path, *args: str, os_release: str = "debian") -> subprocess.CompletedProcess[str]:
    release = tmp_path / "os-release"
    release.write_text(OS_RELEASES.get(os_release, os_release))
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PUSHDEPLOY_OS_RELEASE": str(release)})


def commands(proc: subprocess.CompletedProcess[str]) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in proc.stdout.splitlines() if line.startswith("+ ")]


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_the_install_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(INSTALL)], capture_output=True, timeout=30).returncode == 0


@pytest.mark.parametrize("family", ["amazon", "debian", "ubuntu"])
def test_dry_run_installs_docker_git_python_the_agent_the_settings_and_the_unit(tmp_path, family):
    settings = tmp_path / "agent.toml"
    settings.write_text("[agent]\n")

    proc = install(tmp_path, "--dry-run", "--config", str(settings), os_release=family)

    assert proc.returncode == 0, proc.stderr
    cmds = commands(proc)
    packages = next(c for c in cmds if "install" in c and ("dnf" in c or "apt-get" in c))
    expected = {"docker", "git", "python3"} if family == "amazon" else {"docker.io", "git", "python3", "python3-venv"}
    assert expected <= set(packages)
    assert ["systemctl", "enable", "--now", "docker"] in cmds
    assert ["usermod", "-aG", "docker", "pushdeploy"] in cmds
    pip = next(c for c in cmds if c[:2] == ["/opt/pushdeploy/venv/bin/pip", "install"] and "--upgrade" not in c)
    assert str(ROOT / "agent") in pip and "git-remote-codecommit" in pip
    checks = [c for c in cmds if c[0] == "/opt/pushdeploy/venv/bin/python" and str(settings) in c]
    assert checks, "the settings file is validated before it is installed"
    assert ["install", "-m", "0640", "-o", "root", "-g", "pushdeploy", str(settings),
            "/etc/pushdeploy/agent.toml"] in cmds
    assert ["install", "-m", "0644", str(UNIT), "/etc/systemd/system/pushdeploy-agent.service"] in cmds
    assert ["systemctl", "enable", "pushdeploy-agent.service"] in cmds
    assert ["systemctl", "start", "pushdeploy-agent.service"] not in cmds


def test_usage_mistakes_fail_with_one_line(tmp_path):
    unsupported = install(tmp_path, "--dry-run", "--config", str(INSTALL), os_release="ID=arch\n")
    assert unsupported.returncode == 1
    assert unsupported.stderr.strip() == "install.sh: error: unsupported distribution 'arch' " \
                                         "(supported: Amazon Linux 2023, Debian, Ubuntu)"
    missing = install(tmp_path, "--dry-run", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 1 and "settings file not found" in missing.stderr
    assert install(tmp_path, "--frobnicate").stderr.startswith("install.sh: error: unknown argument: --frobnicate")
    helped = install(tmp_path, "--help")
    assert helped.returncode == 0 and "sudo agent/install.sh --config" in helped.stdout


def test_the_unit_runs_the_agent_at_boot_as_pushdeploy_in_the_docker_group():
    unit = unit_settings()
    assert unit["User"] == ["pushdeploy"]
    assert unit["SupplementaryGroups"] == ["docker"]
    assert unit["WantedBy"] == ["multi-user.target"]
    assert "docker.service" in unit["After"][0] and unit["Requires"] == ["docker.service"]
    assert "PUSHDEPLOY_CONFIG=/etc/pushdeploy/agent.toml" in unit["Environment"]
    assert unit["Restart"] == ["no"]  # a crash must end in EndOfRun (stop), not a restart loop


def test_the_units_command_lines_are_valid_agent_commands():
    unit = unit_settings()
    start = shlex.split(unit["ExecStart"][0])
    stop_post = shlex.split(unit["ExecStopPost"][0])
    assert start[0] == stop_post[0] == "/opt/pushdeploy/venv/bin/pushdeploy-agent"
    run = build_parser().parse_args(start[1:])
    assert (run.command, run.config, run.exit_when_idle) == ("run", "/etc/pushdeploy/agent.toml", False)
    end = build_parser().parse_args(stop_post[1:])
    assert (end.command, end.if_service_failed, end.config) == ("end-of-run", True, "/etc/pushdeploy/agent.toml")


def test_the_package_builds_and_runs_outside_the_repository(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    shutil.copytree(ROOT / "agent", source / "agent", ignore=ignore)
    shutil.copytree(ROOT / "chalicelib", source / "chalicelib", ignore=ignore)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source / "agent")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("pushdeploy_agent-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert {"agent/cli.py", "agent/systemd/pushdeploy-agent.service", "chalicelib/contracts.py"} <= names
    assert "pushdeploy-agent = agent.cli:main" in entry_points
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    every_module = ("import importlib, pkgutil; [importlib.import_module(m.name) for m in "
                    "pkgutil.walk_packages(agent.__path__, 'agent.') if m.name != 'agent.__main__']; ")
    ran = subprocess.run([sys.executable, "-c", "import agent, sys; " + every_module + "from agent.cli import main; "
                          "print(agent.__file__); sys.argv = ['pushdeploy-agent', '--help']; main()"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert ran.stdout.startswith(str(target / "agent")), ran.stderr
    assert "usage: pushdeploy-agent" in ran.stdout


def test_the_unit_and_the_stop_hook_can_ask_for_the_stop_without_the_settings_file(tmp_path):
    """agent.env is optional for the unit ("-"), and a hand install writes it from the settings it installs."""
    assert unit_settings()["EnvironmentFile"] == ["-/etc/pushdeploy/agent.env"]
    settings = tmp_path / "agent.toml"
    settings.write_text("[agent]\n")

    cmds = commands(install(tmp_path, "--dry-run", "--config", str(settings)))

    (write,) = [c for c in cmds if c[-2:] == [str(settings), "/etc/pushdeploy/agent.env"]]
    env_file = tmp_path / "agent.env"
    config = tmp_path / "real.toml"
    config.write_text('[agent]\nregion = "eu-west-1"\nqueue_url = "https://q"\n'
                      'close_topic_arn = "arn:aws:sns:eu-west-1:123456789012:close"\n'
                      '[[pipelines]]\nrepository = "r"\nbranch = "b"\nsource_url = "s"\nimage_repository = "i"\n')
    subprocess.run([sys.executable, *write[1:3], str(config), str(env_file)], cwd=ROOT, check=True, timeout=60)
    assert env_file.read_text() == ("PUSHDEPLOY_CLOSE_TOPIC_ARN=arn:aws:sns:eu-west-1:123456789012:close\n"
                                    "AWS_DEFAULT_REGION=eu-west-1\n")
