"""Webhook routes: a push on GitHub, GitLab or Bitbucket Cloud becomes the same ``BuildRequest`` a CodeCommit
push does (docs/webhooks.md).

One module per job: ``delivery`` (what a route was given and what it answers), ``signatures`` (constant-time
checks), ``secrets`` (the per-provider SSM SecureStrings), ``ledger`` (delivery ids seen, in DynamoDB), one
parser per provider, ``plan`` (pushes -> build requests), ``handler`` (the order of the checks) and ``route``
(what app.py calls). Nothing here imports boto3: the factory hands the clients in.
"""
