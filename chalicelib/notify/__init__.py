"""What the team is told: the notify function turns a build result, an alert, an alarm or an agent's end of run on
the close topic into one Slack Block Kit message, within Slack's limits, and posts it to the webhook kept in SSM."""
