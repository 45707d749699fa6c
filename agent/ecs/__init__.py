"""The ECS adapter: copy a task definition with a new image, register it, update services, judge the
rollout, roll back, prune old revisions, and journal a deploy so a crash mid-deploy is verified next run."""
