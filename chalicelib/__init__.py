"""pushdeploy's Lambda-side library.

Everything here must import without touching AWS and without heavy dependencies, because
the same package is packaged into every Lambda function (cold start) and imported by the
builder agent (for the message contracts).
"""
