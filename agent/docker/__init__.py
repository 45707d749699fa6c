"""The Docker engine adapter: build, push and log in with the docker CLI, stream its output, read a failed
step's reason, keep the builder's disk bounded, and parse image references."""
