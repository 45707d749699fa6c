"""The local rig: the real parts pushdeploy runs against on one machine.

AWS is the one thing stood in for (moto in server mode); the Docker engine, the registry,
git repositories and the webhook receiver are the real programs. The demo and the
end-to-end tests drive the same rig.
"""
