"""pushdeploy's builder agent: one CLI (``pushdeploy-agent`` / ``python -m agent``) made of small modules.

``AgentError`` is the root of the agent's own errors so the CLI can turn any of them into a
one-line reason and a non-zero exit, while unexpected exceptions still surface as bugs.
"""


class AgentError(Exception):
    """A failure the agent understands; the message names what and where."""
