"""Pushes in, build requests out: the request function (CodeCommit triggers and EventBridge events), the branch
filter, the pipeline API's build and rollback requests, and the request topic they are published to."""
