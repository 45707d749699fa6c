"""A real `chalice local --stage local` child on the rig: it starts on a free port with the exports of
`python -m localrig up`, answers as API Gateway does, and stops with the rig."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from localrig.lambdas import chalice_local
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig

pytestmark = pytest.mark.docker
SAMPLE = PipelineSpec(repository="sample")


@pytest.fixture(scope="module")
def rig(tmp_path_factory, docker_engine, base_image):
    rig = LocalRig(tmp_path_factory.mktemp("rig"), [SAMPLE], engine=docker_engine).start()
    try:
        yield rig
    finally:
        rig.stop()


def request(url: str, data: bytes | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_it_starts_on_a_free_port_and_answers_a_path_without_a_route_as_api_gateway_does(rig):
    url = rig.start_chalice_local()
    try:
        assert request(f"{url}/no/such/route", data=b"{}") == (403, {"message": "Missing Authentication Token"})
        assert "Serving on" in rig.chalice_local.log_text()
    finally:
        rig.chalice_local.stop()


def test_it_serves_the_app_s_routes_against_the_rig_without_auth(rig):
    """GET /pipelines reads the agent settings the rig uploaded: the route, the local stage's "no auth" and the
    exported AWS endpoint, all at once."""
    url = rig.start_chalice_local()
    try:
        status, answer = request(f"{url}/pipelines")
    finally:
        rig.chalice_local.stop()
    assert status == 200, answer
    assert [p["id"] for p in answer["pipelines"]] == [SAMPLE.key]


def test_the_child_loads_the_app_with_the_local_stage_and_the_rig_s_settings(rig):
    """The app registers its functions at import from PUSHDEPLOY_FUNCTIONS and the topic ARNs: a child without
    the exports would not import app.py and would never answer."""
    exports = rig.local_exports()
    server = chalice_local.start({"PATH": "/usr/bin:/bin", **exports}, rig.run_dir / "bare-chalice-local.log")
    try:
        assert request(f"{server.url}/", data=b"{}")[0] == 403
    finally:
        server.stop()
    without_topics = {k: v for k, v in exports.items() if k != "REQUEST_TOPIC_ARN"}
    try:
        started = chalice_local.start({"PATH": "/usr/bin:/bin", **without_topics}, rig.run_dir / "broken.log")
    except chalice_local.ChaliceLocalError as exc:
        assert "REQUEST_TOPIC_ARN" in str(exc)
    else:
        started.stop()
        pytest.fail("chalice local served the app without REQUEST_TOPIC_ARN")


def test_a_taken_port_is_reported_with_chalice_s_own_words(rig):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(chalice_local.ChaliceLocalError, match="Address already in use"):
            chalice_local.start(rig.local_exports() | {"PATH": "/usr/bin:/bin"}, rig.run_dir / "taken.log",
                                port=port)


def test_stopping_the_rig_stops_the_chalice_local_it_started(tmp_path, docker_engine, base_image):
    rig = LocalRig(tmp_path / "rig", [SAMPLE], engine=docker_engine).start()
    try:
        url = rig.start_chalice_local()
        assert rig.chalice_local.answers()
    finally:
        rig.stop()
    assert not rig.chalice_local.alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
