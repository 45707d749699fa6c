"""The real parts a benchmark runs against, started as the tests start them and stopped on every exit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from localrig import services


@dataclass(frozen=True)
class Parts:
    moto: services.MotoServer
    engine: services.DockerEngine
    registry: services.Registry
    base_image: str


@contextmanager
def running_parts(tmp: Path) -> Iterator[Parts]:
    """moto server, the Docker engine (DOCKER_HOST, else the rig's), a registry; this process's AWS
    clients and docker CLI point at them (DOCKER_CONFIG in ``tmp``)."""
    rig = services.Rig()
    try:
        moto = rig.add(services.start_moto(tmp / "moto", running_tasks=1))
        engine = rig.add(services.find_or_start_docker(Path(os.environ.get("PUSHDEPLOY_RIG_DIR",
                                                                          "/tmp/pushdeploy-test-rig")) / "docker"))
        registry = rig.add(services.start_registry(tmp / "registry"))
        base = services.ensure_base_image(engine)
        (tmp / "docker-config").mkdir()
        os.environ.update(moto.client_env())
        os.environ.update(DOCKER_HOST=engine.host, DOCKER_CONFIG=str(tmp / "docker-config"))
        yield Parts(moto, engine, registry, base)
    finally:
        rig.stop()
