"""In a pool every result says which builder built it (``builder_instance_id``: the agent's own instance id,
from ``[agent] instance_id`` or IMDS), so history and Slack can tell the builders apart. Two agents with their
own ids serve one FIFO queue here; each result names the agent that published it."""

from __future__ import annotations

import threading

from agent.runner import Runner
from chalicelib.contracts import BuildResult
from tests.agent.agentrig import BRANCH, agent_context, make_repo, make_world, pipeline_block, write_config

BUILDERS = ("i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2")


def test_each_result_names_the_builder_that_built_it(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000", fifo=True)
    repo = make_repo(tmp_path)
    other = pipeline_block(world, "other", tmp_path / "missing.git")
    logs: dict[str, list[str]] = {}
    runners = []
    for instance in BUILDERS:
        config = write_config(tmp_path / f"{instance}.toml", world, repo, tmp_path / instance, extra_pipelines=other)
        config.write_text(config.read_text().replace("i-0123456789abcdef0", instance)
                          .replace(f'source_url = "{repo.bare}"', f'source_url = "{tmp_path}/gone.git"'))
        runners.append(Runner(agent_context(config, logs.setdefault(instance, []))))
    world.send()
    world.send(repository="other")
    threads = [threading.Thread(target=r.run, kwargs={"exit_when_idle": True}, daemon=True) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    results = [m for m in world.close_messages() if isinstance(m, BuildResult)]
    assert sorted(r.pipeline for r in results) == [f"other/{BRANCH}", f"sample/{BRANCH}"]
    for result in results:
        [builder] = [i for i, lines in logs.items() if any(f"result published: {result.pipeline} " in line
                                                           for line in lines)]
        assert result.builder_instance_id == builder
