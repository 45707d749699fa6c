"""Copy a running task definition into a new revision where only the target images change.

The seed copied three hand-picked keys and lost cpu, memory, network mode, compatibilities and
the execution role; peers with allow-lists drop fields, peers with deny-lists break when AWS adds
read-only ones. botocore's own service model says which keys RegisterTaskDefinition accepts, at
every nesting level, so the copy is driven by that schema and never goes stale.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.model import Shape

from agent.docker.imageref import ImageRef, ImageRefError, normalize_repository, parse_image
from agent.ecs.api import TargetError

RegisterInput = dict[str, Any]


def register_shape(client: Any = None) -> Shape:
    """RegisterTaskDefinition's input shape, from the client's own model when one is given."""
    if client is not None:
        model = client.meta.service_model
    else:
        model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def _keep(value: Any, shape: Shape) -> Any:
    """``value`` trimmed to what ``shape`` accepts, recursively."""
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members
        return {k: _keep(v, members[k]) for k, v in value.items() if k in members}
    if shape.type_name == "list" and isinstance(value, list):
        return [_keep(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {k: _keep(v, shape.value) for k, v in value.items()}
    return value


def to_register_input(described: Mapping[str, Any], tags: Sequence[Mapping[str, str]] = (),
                      shape: Shape | None = None) -> RegisterInput:
    """A describe_task_definition result as RegisterTaskDefinition input, tags included when present."""
    shape = shape or register_shape()
    data = _keep(dict(described), shape)
    data.pop("tags", None)
    if tags:
        data["tags"] = [dict(tag) for tag in tags]
    return data


def dropped_keys(described: Mapping[str, Any], shape: Shape | None = None) -> list[str]:
    """Top-level keys the copy leaves out (read-only ones such as revision, status, registeredAt)."""
    members = (shape or register_shape()).members
    return sorted(k for k in described if k not in members)


@dataclass(frozen=True)
class ImageChange:
    container: str
    old: str
    new: str


@dataclass(frozen=True)
class Rendered:
    """The new revision's input next to the old one's, and which containers changed image."""

    source: str
    old: RegisterInput
    new: RegisterInput
    changes: tuple[ImageChange, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return any(c.old != c.new for c in self.changes)


def runs_repository(container: Mapping[str, Any], image_repository: str, registry: str | None = None) -> bool:
    """Whether the container's image comes from ``image_repository`` (on ``registry``; None: any host).

    One rule for "which containers are ours", shared by the render and by the skip check that reads
    what the services run, so both always pick the same containers."""
    try:
        ref = parse_image(container.get("image", ""))
    except ImageRefError:
        return False  # not ours to judge: a sidecar we leave untouched
    wanted = normalize_repository(image_repository.strip("/"), ref.registry)
    return ref.repository == wanted and (registry is None or ref.registry == registry)


def select_containers(container_defs: Sequence[Mapping[str, Any]], image: ImageRef, image_repository: str,
                      containers: Sequence[str] = (), where: str = "task definition") -> list[str]:
    """Names of the containers that take the new image: the named ones, or those whose image
    comes from the same registry host and repository path as the new image."""
    names = [c["name"] for c in container_defs]
    listing = ", ".join(f"{c['name']}={c.get('image', '?')}" for c in container_defs)
    if containers:
        missing = [n for n in containers if n not in names]
        if missing:
            raise TargetError(f"{where} has no container named {', '.join(missing)} (containers: {listing})")
        return list(dict.fromkeys(containers))
    chosen = [c["name"] for c in container_defs if runs_repository(c, image_repository, image.registry)]
    if not chosen:
        wanted = normalize_repository(image_repository.strip("/"), image.registry)
        raise TargetError(f"{where} has no container running an image from {image.registry}/{wanted} "
                          f"(containers: {listing}); name them with containers=")
    return chosen


def render(described: Mapping[str, Any], tags: Sequence[Mapping[str, str]], image: str, image_repository: str,
           containers: Sequence[str] = (), shape: Shape | None = None) -> Rendered:
    """The next revision of ``described``: identical except the target containers' ``image``."""
    ref = parse_image(image)
    where = f"task definition {described.get('family', '?')}:{described.get('revision', '?')}"
    old = to_register_input(described, tags, shape)
    targets = select_containers(old["containerDefinitions"], ref, image_repository, containers, where)
    new = json.loads(json.dumps(old))
    changes = []
    for container in new["containerDefinitions"]:
        if container["name"] in targets:
            changes.append(ImageChange(container["name"], container.get("image", ""), image))
            container["image"] = image
    return Rendered(described.get("taskDefinitionArn", where), old, new, tuple(changes))


def diff_inputs(old: RegisterInput, new: RegisterInput, old_name: str, new_name: str) -> str:
    """A unified diff of two register inputs as sorted JSON: what a person reviews before a deploy."""
    def lines(data: RegisterInput) -> list[str]:
        return json.dumps(data, indent=2, sort_keys=True, default=str).splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(old), lines(new), old_name, new_name))
