"""Start (or find) the real parts the pipeline runs against: moto server, a Docker engine,
a container registry, and the local base image that offline Dockerfiles build FROM.

Each starter returns a handle with ``stop()``; callers (pytest session fixtures, the demo)
own the lifetime. Nothing here sleeps blindly: readiness is polled with a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localrig.iam.principals import BOOTSTRAP_CALLS, DEFAULT_KEYS, Keys, bootstrap_admin

BASE_IMAGE = "local/busybox:latest"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
BUSYBOX_APPLETS = ("sh", "cat", "echo", "ls", "httpd", "sleep", "test", "true", "false", "mkdir", "wget")


class ServiceError(RuntimeError):
    """A real part could not be started; the message says what to install or check."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``check`` until it returns True; raise ServiceError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise ServiceError(f"timed out after {timeout:.0f}s waiting for {what}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status < 500
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Process:
    """A child process we started, with its log file."""

    name: str
    popen: subprocess.Popen[bytes] | None
    log_path: Path | None = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self.popen.wait(timeout=timeout)

    def _kill_group(self) -> None:
        """SIGKILL the child and, when it leads its own process group (``_spawn`` starts it in a new
        session), everything it started: a killed leader cannot stop its children itself."""
        assert self.popen is not None
        try:
            if os.getpgid(self.popen.pid) == self.popen.pid:
                os.killpg(self.popen.pid, signal.SIGKILL)
                return
        except ProcessLookupError:
            return
        self.popen.kill()

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _spawn(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Process:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Process(name, popen, log_path)


def ready_or_stopped(part: Process, check: Callable[[], bool], timeout: float, what: str,
                     interval: float = 0.1) -> None:
    """Wait until ``check`` holds; if it never does, or the child dies first, stop the child before
    raising, so a failed start never leaves a process running behind the caller."""
    try:
        wait_until(lambda: not part.alive() or check(), timeout, what, interval=interval)
    except BaseException:
        part.stop()
        raise
    if not part.alive():
        raise ServiceError(f"{what} exited at start:\n{part.log_tail()}")


# ---------------------------------------------------------------- moto


@dataclass
class MotoServer(Process):
    url: str = ""
    region: str = "us-east-1"
    # who signs as "the rig": moto's default keys, or (IAM enforced) the admin user made at start
    keys: Keys = DEFAULT_KEYS
    enforce_iam: bool = False

    def client_env(self) -> dict[str, str]:
        """Environment for any boto3 client or child process that must talk to this server as the rig's admin."""
        return {"AWS_ENDPOINT_URL": self.url, **self.keys.env(), "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region}

    def session(self) -> Any:
        """A boto3 session signing as the rig's admin."""
        return self.keys.session(self.region)

    def reset(self) -> None:
        """Forget every resource (moto's reset API), so tests can share one server."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).close()


def start_moto(workdir: Path, running_tasks: int = 1, region: str = "us-east-1",
               faults_file: Path | None = None, enforce_iam: bool = False) -> MotoServer:
    """moto in server mode, with ECS services reporting ``running_tasks`` running tasks; ``faults_file`` is
    the file the rig switches faults with (localrig.aws.faults). ``enforce_iam``: moto checks every request's
    signature and identity policies after the first ``BOOTSTRAP_CALLS``, which make the rig's admin user
    (localrig.iam.principals); the server's ``keys`` are then that admin's."""
    port = free_port()
    env = dict(os.environ, MOTO_ECS_SERVICE_RUNNING=str(running_tasks))
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    if enforce_iam:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(BOOTSTRAP_CALLS)
    if faults_file is not None:
        env["PUSHDEPLOY_RIG_FAULTS"] = str(faults_file)
    env.pop("AWS_ENDPOINT_URL", None)
    argv = [sys.executable, "-m", "localrig.aws.server", "-H", "127.0.0.1", "-p", str(port)]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                      env.get("PYTHONPATH")]))
    proc = _spawn("moto", argv, workdir / f"moto-{port}.log", env)
    server = MotoServer(proc.name, proc.popen, proc.log_path, url=f"http://127.0.0.1:{port}", region=region)
    ready_or_stopped(server, lambda: _http_ok(f"{server.url}/moto-api/data.json"), 30, "moto server")
    if enforce_iam:
        try:
            server.keys = bootstrap_admin(server.url, region)
        except BaseException:
            server.stop()
            raise
        server.enforce_iam = True
    return server


# ---------------------------------------------------------------- docker engine


@dataclass
class DockerEngine(Process):
    host: str = ""

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True, timeout: float = 300,
               input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", *args], env=dict(os.environ, DOCKER_HOST=self.host), check=check,
                              capture_output=True, timeout=timeout, input=input)


def docker_problem(host: str | None) -> str:
    """Why ``docker info`` fails against ``host`` (docker's own last error line); "" when the engine answers."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    env = dict(os.environ)
    if host:
        env["DOCKER_HOST"] = host
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], env=env,
                              capture_output=True, text=True, timeout=15)
    except (subprocess.TimeoutExpired, OSError) as exc:
        return f"docker info: {exc}"
    if done.returncode == 0:
        return ""
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"docker info exited {done.returncode}"


def docker_reachable(host: str | None) -> bool:
    return not docker_problem(host)


def no_engine_message(problem: str, is_root: bool, dockerd_installed: bool, client_installed: bool) -> str:
    """What to do when no engine answers and the rig cannot start its own: named for the user's case."""
    if not client_installed:
        return ("the docker client is not installed: install Docker (Debian: `apt-get install docker.io`; "
                "elsewhere Docker Desktop or Docker Engine), start it, and run the demo again")
    hint = "Start Docker (e.g. `sudo systemctl start docker`, or open Docker Desktop) or set DOCKER_HOST"
    if "permission denied" in problem.lower():
        hint = ("the engine is running but this user may not use its socket: add yourself to the docker group "
                "(`sudo usermod -aG docker $USER`, then log in again) or set DOCKER_HOST")
    elif is_root and not dockerd_installed:
        hint += "; or `apt-get install docker.io` and pushdeploy starts its own engine"
    elif not is_root:
        hint += "; as root with dockerd installed, pushdeploy starts its own engine"
    return f"no Docker engine is reachable ({problem}). {hint}."


def current_context_host() -> str:
    """The endpoint of the docker CLI's current context: children get it as DOCKER_HOST, and on a laptop
    (Docker Desktop, rootless Docker) it is a context's socket, not /var/run/docker.sock."""
    try:
        done = subprocess.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
                              capture_output=True, text=True, timeout=15)
    except (subprocess.TimeoutExpired, OSError):
        return DEFAULT_DOCKER_HOST
    host = done.stdout.strip()
    return host if done.returncode == 0 and host else DEFAULT_DOCKER_HOST


def find_or_start_docker(workdir: Path) -> DockerEngine:
    """Use the engine the user already has (DOCKER_HOST or the default socket); otherwise, as
    root with dockerd installed, start a private one (vfs, no iptables) under ``workdir``."""
    existing = os.environ.get("DOCKER_HOST")
    if docker_reachable(existing):
        return DockerEngine("docker", None, host=existing or current_context_host())
    sock = workdir / "docker.sock"
    host = f"unix://{sock}"
    if docker_reachable(host):
        return DockerEngine("docker", None, host=host)
    is_root = os.geteuid() == 0
    dockerd, client = shutil.which("dockerd") is not None, shutil.which("docker") is not None
    if not (is_root and dockerd and client):
        raise ServiceError(no_engine_message(docker_problem(existing), is_root, dockerd, client))
    return start_dockerd(workdir)


def start_dockerd(workdir: Path, runtime_dir: Path | None = None) -> DockerEngine:
    """A private engine (vfs, no iptables, no bridge, as root): its images and layers under ``workdir``; its
    socket, pid file and exec root under ``runtime_dir`` (default ``workdir``), which must be a short path
    (a unix socket's path has at most 107 bytes, and containerd's sits deeper in the exec root)."""
    runtime = runtime_dir or workdir
    workdir.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(parents=True, exist_ok=True)
    host = f"unix://{runtime / 'docker.sock'}"
    argv = ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
            "--data-root", str(workdir / "data"), "--exec-root", str(runtime / "exec"),
            "--pidfile", str(runtime / "dockerd.pid"), "-H", host]
    proc = _spawn("dockerd", argv, workdir / "dockerd.log")
    engine = DockerEngine(proc.name, proc.popen, proc.log_path, host=host)
    ready_or_stopped(engine, lambda: docker_reachable(host), 60, "dockerd", interval=0.5)
    return engine


def ensure_base_image(engine: DockerEngine, image: str = BASE_IMAGE) -> str:
    """A tiny local base image from the host's static busybox, for Dockerfiles that build offline."""
    if engine.docker("image", "inspect", image, check=False).returncode == 0:
        return image
    busybox = shutil.which("busybox")
    if busybox is None:
        raise ServiceError("busybox is not installed (apt-get install busybox-static); it makes the base image")
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        for folder in ("tmp", "www", "etc"):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
    engine.docker("import", "-", image, input=buf.getvalue())
    return image


# ---------------------------------------------------------------- registry


@dataclass
class Registry(Process):
    address: str = ""  # host:port, what image references and `docker login` use

    def tags(self, repository: str) -> list[str]:
        import json

        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/{repository}/tags/list", timeout=5) as resp:
                return sorted(json.load(resp).get("tags") or [])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise


def start_registry(workdir: Path) -> Registry:
    """The CNCF distribution registry (Debian's docker-registry), the stand-in for ECR's endpoint."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        raise ServiceError("no registry binary found (apt-get install docker-registry)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"registry-{port}.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {workdir / 'storage'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
        "log: {level: warn}\n"
    )
    proc = _spawn("registry", [binary, "serve", str(config)], workdir / f"registry-{port}.log")
    registry = Registry(proc.name, proc.popen, proc.log_path, address=f"127.0.0.1:{port}")
    ready_or_stopped(registry, lambda: _http_ok(f"http://{registry.address}/v2/"), 30, "registry")
    return registry


def restart_registry(stopped: Registry) -> Registry:
    """Start a stopped registry again on the same address, with the same configuration and storage
    (a registry outage that ends): image references and logins made before still point at it."""
    assert stopped.log_path is not None
    config = stopped.log_path.with_suffix(".yml")
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        raise ServiceError("no registry binary found (apt-get install docker-registry)")
    proc = _spawn("registry", [binary, "serve", str(config)], stopped.log_path)
    registry = Registry(proc.name, proc.popen, proc.log_path, address=stopped.address)
    ready_or_stopped(registry, lambda: _http_ok(f"http://{registry.address}/v2/"), 30, "registry")
    return registry


@dataclass
class Rig:
    """The set of running parts, stopped together."""

    parts: list[Process] = field(default_factory=list)

    def add(self, part: Process) -> Process:
        self.parts.append(part)
        return part

    def replace(self, old: Process, new: Process) -> Process:
        self.parts[self.parts.index(old)] = new
        return new

    def stop(self) -> None:
        """Stop every part, even when stopping one of them fails; then raise the first failure."""
        failures: list[BaseException] = []
        for part in reversed(self.parts):
            try:
                part.stop()
            except BaseException as exc:  # noqa: BLE001 - the other parts must still be stopped
                failures.append(exc)
        if failures:
            raise failures[0]
