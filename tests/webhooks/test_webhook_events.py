"""Only a branch push builds: a ping is answered 200, other events 202 with the reason, and a tag or a deleted
branch 202 "not built". None of them publishes or records anything."""

from __future__ import annotations

import pytest

ZERO = "0" * 40


def _not_published(rig, answer, status: int, result: str, reason: str) -> None:
    assert answer[0] == status, answer
    assert answer[1]["result"] == result and reason in answer[1].get("reason", ""), answer
    assert rig.published() == [] and rig.deliveries() == []


@pytest.mark.parametrize("name, header, event", [("github_push", "X-GitHub-Event", "issues"),
                                                 ("gitlab_push", "X-Gitlab-Event", "Merge Request Hook"),
                                                 ("bitbucket_push", "X-Event-Key", "pullrequest:created")])
def test_an_event_other_than_a_push_is_accepted_and_ignored_with_the_reason(webhook_rig, client, name, header,
                                                                             event):
    answer = webhook_rig.send_sample(client, name, lambda h, b: h.update({header: event}))
    _not_published(webhook_rig, answer, 202, "ignored", f"event {event!r} does not build")


def test_a_github_tag_push_is_not_built(webhook_rig, client):
    answer = webhook_rig.send_sample(client, "github_tag_push")
    _not_published(webhook_rig, answer, 202, "not built", "refs/tags/simple-tag of Codertocat/Hello-World: a tag")


def test_a_github_tag_created_is_not_built_either(webhook_rig, client):
    def created(headers, body):
        body.update(after="0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", deleted=False, created=True)

    _not_published(webhook_rig, webhook_rig.send_sample(client, "github_tag_push", created), 202, "not built",
                   "tags never build")


@pytest.mark.parametrize("deletion", [{"deleted": True}, {"after": ZERO}, {"deleted": True, "after": ZERO}])
def test_a_deleted_github_branch_is_not_built(webhook_rig, client, deletion):
    answer = webhook_rig.send_sample(client, "github_push", lambda h, b: b.update(deletion))
    _not_published(webhook_rig, answer, 202, "not built", "refs/heads/main of Codertocat/Hello-World: branch deleted")


def test_a_gitlab_tag_push_hook_is_not_built(webhook_rig, client):
    _not_published(webhook_rig, webhook_rig.send_sample(client, "gitlab_tag_push"), 202, "ignored",
                   "tags never build")


def test_a_deleted_gitlab_branch_is_not_built(webhook_rig, client):
    answer = webhook_rig.send_sample(client, "gitlab_push", lambda h, b: b.update(after=ZERO, checkout_sha=None))
    _not_published(webhook_rig, answer, 202, "not built", "refs/heads/master of mike/diaspora: branch deleted")


def test_a_bitbucket_push_of_only_a_deleted_branch_and_a_tag_is_not_built(webhook_rig, client):
    def deletion_and_tag(headers, body):
        changes = body["push"]["changes"]
        changes[0].update(new=None, closed=True)
        del changes[1]

    answer = webhook_rig.send_sample(client, "bitbucket_push", deletion_and_tag)
    _not_published(webhook_rig, answer, 202, "not built", "main of team_name/repo_name: branch deleted, not built; "
                   "tag v2.0 of team_name/repo_name: tags never build")
