"""pushdeploy's Lambda-side library.

Everything here must import without touching AWS and without heavy dependencies, because
the same package is packaged into every Lambda function (cold start) and imported by the
builder agent (for the message contracts).

- ``request/``: pushes in (CodeCommit triggers, EventBridge events, the pipeline API), build requests out;
- ``webhooks/``: GitHub, GitLab and Bitbucket push webhooks, verified, turned into build requests;
- ``builders/``: build_start, close and the reconcile, the pool rules, the heartbeat, the build queue's state;
- ``notify/``: a result, alert or alarm on the close topic as one Slack message;
- ``history/``: build history in DynamoDB and the read API; ``dashboard/``: the page and its token;
- ``contracts.py``, ``fifo.py``, ``message_bounds.py``: the messages both sides share; ``factory.py`` builds
  the handlers with their clients; ``settings.py``, ``region.py``, ``arns.py``, ``errors.py``, ``aws_errors.py``
  and ``status.py`` are shared by them.
"""
