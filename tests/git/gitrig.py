"""Real parts for the hosted-git credential tests: the authenticated smart-HTTP server, an sshd on
an unprivileged port, a recorder of every git/ssh command line, and a scan for a secret.

Plain helpers rather than conftest fixtures, so each test module shows which parts it uses.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localrig.services import Process, ServiceError, _spawn, free_port, ready_or_stopped

SSHD = "/usr/sbin/sshd"


@dataclass
class Recorder:
    """A directory put first on PATH whose ``git`` and ``ssh`` log their argv and environment, then exec the
    real program: it records what really ran, it changes nothing."""

    bin_dir: Path
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def argvs(self, program: str) -> list[str]:
        return [line.split(" ", 2)[2] for line in self.text().splitlines()
                if line.startswith(f"argv: {program} ")]


def make_recorder(tmp: Path) -> Recorder:
    bin_dir, log = tmp / "recording-bin", tmp / "recorded-commands.log"
    bin_dir.mkdir()
    for program in ("git", "ssh"):
        real = shutil.which(program)
        assert real is not None, f"{program} is not installed"
        script = bin_dir / program
        script.write_text(
            "#!/bin/sh\n"
            f"{{ printf 'argv: {program} %s\\n' \"$*\"; env | sed 's/^/env: /'; }} >> '{log}'\n"
            f"exec '{real}' \"$@\"\n")
        script.chmod(0o755)
    return Recorder(bin_dir, log)


def leaks(secret: str, **places: str) -> list[str]:
    """The names of the places whose text holds the secret (or a long piece of it)."""
    pieces = {secret.strip()} | {line.strip() for line in secret.splitlines() if len(line.strip()) >= 16
                                 and not line.strip().startswith("-----")}
    return [name for name, text in places.items() if any(piece in text for piece in pieces)]


def auth_temp_dirs(tmp_root: Path) -> list[Path]:
    return sorted(tmp_root.glob("pushdeploy-git-auth-*"))


# ---------------------------------------------------------------- sshd


@dataclass
class Sshd(Process):
    port: int = 0
    host_key_line: str = ""  # the known_hosts line that pins this server's key

    def url(self, path: Path) -> str:
        return f"ssh://{os.environ.get('USER') or 'root'}@127.0.0.1:{self.port}{path}"


def keygen(path: Path) -> tuple[str, str]:
    """A fresh ed25519 key pair: (private key text, public key line)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pushdeploy-test", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


def sshd_problem() -> str:
    """Why a private sshd cannot run here ("" when it can)."""
    if not os.path.exists(SSHD):
        return "openssh-server is not installed (apt-get install openssh-server; scripts/setup.sh does)"
    if shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        return "openssh-client is not installed"
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        try:  # what systemd-tmpfiles does for the package at boot: sshd as root wants its privsep dir
            os.mkdir("/run/sshd", 0o755)
        except OSError as exc:
            return f"sshd as root needs /run/sshd: {exc}"
    return ""


def start_sshd(tmp: Path, authorized_public_key: str) -> Sshd:
    """sshd on a free loopback port with its own host key and config; only ``authorized_public_key`` logs in
    (as the current user), and only to run commands (``restrict``: no pty, no forwarding)."""
    problem = sshd_problem()
    if problem:
        raise ServiceError(problem)
    host_key = tmp / "ssh_host_ed25519_key"
    _, host_public = keygen(host_key)
    authorized = tmp / "authorized_keys"
    authorized.write_text(f"restrict {authorized_public_key}\n")
    port = free_port()
    config = tmp / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nAuthorizedKeysFile {authorized}\n"
                      "PidFile none\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n"
                      "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n")
    proc = _spawn("sshd", [SSHD, "-D", "-e", "-f", str(config)], tmp / "sshd.log")
    key_type, key_body = host_public.split()[:2]
    server = Sshd(proc.name, proc.popen, proc.log_path, port=port,
                  host_key_line=f"[127.0.0.1]:{port} {key_type} {key_body}")
    ready_or_stopped(server, lambda: _listening(port), 30, "sshd")
    return server


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def with_source(config: Path, local_path: Path, source: str) -> Path:
    """Point the settings file's pipeline at a hosted source: ``source`` holds the source_* lines."""
    text = config.read_text()
    old = f'source_url = "{local_path}"'
    assert old in text
    config.write_text(text.replace(old, source.strip()))
    return config


def store_secret(session, store: str, name: str, value: str) -> str:
    """Put the secret where the builder reads it; returns the setting's value (``ssm:NAME`` ...)."""
    if store == "ssm":
        session.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    else:
        session.client("secretsmanager").create_secret(Name=name, SecretString=value)
    return f"{store}:{name}"


def hosted_pipeline(session, engine, registry: str, hosted, store: str, tmp: Path, monkeypatch) -> Path:
    """The usual docker-backed story, with the source on the authenticated git server and its token in
    ``store``: returns the agent's settings file."""
    from tests.agent.agentrig import make_world, use_docker, write_config

    use_docker(monkeypatch, engine, tmp)
    world = make_world(session, registry)
    config = write_config(tmp / "agent.toml", world, hosted.repo, tmp / "cache")
    setting = store_secret(session, store, SECRET_NAMES[store], hosted.token)
    return with_source(config, hosted.repo.bare, f'source_url = "{hosted.url}"\nsource_token = "{setting}"')


SECRET_NAMES = {"ssm": "/pushdeploy/git/sample", "secretsmanager": "pushdeploy/git/sample"}
