"""Build history: the history function records every build result once in DynamoDB (``store``, ``record``), and
the API reads it back (``api``: ``GET /builds``, ``GET /builds/{build_id}``, ``GET /status``)."""
