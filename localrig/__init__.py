"""The local rig: the real parts pushdeploy runs against on one machine.

AWS is the one thing stood in for (moto in server mode); the Docker engine, the registry,
git repositories and the webhook receiver are the real programs. The demo and the
end-to-end tests drive the same rig.

- ``aws/``: moto in server mode, its fidelity fixes and the fault switches;
- ``git/``: where pushes come from (CodeCommit stand-in, hosted-git server, provider webhooks);
- ``lambdas/``: the Lambda service (one worker per function, SNS and SQS event sources, ``chalice local``);
- ``iam/`` and ``ledger/``: every part as its own principal, and every AWS call it makes judged;
- ``builder.py``, ``imds.py``, ``agent_config.py``: the EC2 builders, each running the real agent;
- ``services.py``, ``slack.py``: the real processes (Docker engine, registry, moto) and the Slack receiver;
- ``rig.py``, ``provision.py``, ``stories.py``, ``faults.py``, ``demo.py``, ``up.py``: the rig itself, what it
  provisions, the user stories it plays, the fault suite, the demo and ``python -m localrig up``;
- ``timeline.py``, ``chromium.py``, ``dashboard_shot.py``: the demo's timeline and the dashboard's screenshot in
  a real browser.
"""
