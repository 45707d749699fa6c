"""The builders and their queue: build_start (start enough builders), close (stop one whose agent ended its run),
the reconcile (make the builders match the work, say what is stuck), the pool rules, the heartbeat, and the build
queue's depth, age and dead letters they decide on."""
