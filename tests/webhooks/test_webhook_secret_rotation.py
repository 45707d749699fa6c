"""Secrets are read once per container and re-read after a failed verification, so a rotated secret works
without a redeploy; forged signatures cause at most one SSM read per provider per interval."""

from __future__ import annotations

from chalicelib.webhooks.secret_store import REFRESH_SECONDS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _ssm_reads(app_module) -> list[str]:
    reads: list[str] = []
    app_module.factory.webhook_client("ssm").meta.events.register(
        "before-parameter-build.ssm.GetParameter", lambda params, **_: reads.append(params["Name"]))
    return reads


def test_a_rotated_secret_is_picked_up_after_the_first_delivery_it_signs(webhook_rig, app_module, client):
    clock = app_module.factory.webhook_clock = Clock()
    reads = _ssm_reads(app_module)
    assert webhook_rig.send_sample(client, "github_push")[0] == 200
    assert webhook_rig.send_sample(client, "gitlab_push")[0] == 200
    assert reads == ["/pushdeploy/webhooks/github", "/pushdeploy/webhooks/gitlab"]  # then cached
    webhook_rig.put_secret("github", "rotated-secret-5b1e")
    clock.now += REFRESH_SECONDS
    new_id = lambda h, b: h.update({"X-GitHub-Delivery": "after-rotation"})  # noqa: E731
    assert webhook_rig.send_sample(client, "github_push", new_id)[0] == 200
    assert reads[2:] == ["/pushdeploy/webhooks/github"]
    assert [r.event_id for r in webhook_rig.published()][-1] == "after-rotation"


def test_forged_signatures_reread_the_secret_at_most_once_per_interval(webhook_rig, app_module, client):
    clock = app_module.factory.webhook_clock = Clock()
    reads = _ssm_reads(app_module)
    for _ in range(20):
        assert webhook_rig.send_sample(client, "bitbucket_push", secret="forged")[0] == 401
    assert reads == ["/pushdeploy/webhooks/bitbucket"]
    clock.now += REFRESH_SECONDS
    for _ in range(5):
        assert webhook_rig.send_sample(client, "bitbucket_push", secret="forged")[0] == 401
    assert reads == ["/pushdeploy/webhooks/bitbucket"] * 2
    assert webhook_rig.published() == []


def test_a_rotation_within_the_interval_is_refused_until_it_passes(webhook_rig, app_module, client):
    clock = app_module.factory.webhook_clock = Clock()
    assert webhook_rig.send_sample(client, "gitlab_push")[0] == 200
    webhook_rig.put_secret("gitlab", "rotated-token-77")
    clock.now += REFRESH_SECONDS / 2
    retry = lambda h, b: h.update({"Idempotency-Key": "second"})  # noqa: E731
    assert webhook_rig.send_sample(client, "gitlab_push", retry)[0] == 401
    clock.now += REFRESH_SECONDS / 2
    assert webhook_rig.send_sample(client, "gitlab_push", retry)[0] == 200  # the provider's retry gets through
