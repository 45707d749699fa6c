"""``python -m agent`` is the same entry point as the ``pushdeploy-agent`` console script."""

from agent.cli import main

raise SystemExit(main())
