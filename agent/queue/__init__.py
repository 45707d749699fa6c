"""The message adapter: the SQS build queue (receive, group, heartbeat, dead-letter), the record of answered
requests, and the close topic where results and EndOfRun are published."""
