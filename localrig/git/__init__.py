"""Where pushes come from on the rig: the CodeCommit stand-in (a bare repository whose hook plays the trigger), a
token-guarded git server standing in for GitHub, GitLab and Bitbucket, and their signed webhook deliveries."""
