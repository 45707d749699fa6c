#!/usr/bin/env bash
# Install the pushdeploy builder agent on Amazon Linux 2023 or Debian/Ubuntu, as root:
#
#   sudo agent/install.sh --config /path/to/agent.toml [--start] [--dry-run]
#
# Installs docker, git and python3 from the distribution, the agent and git-remote-codecommit
# into /opt/pushdeploy/venv, creates the system user pushdeploy (in the docker group), puts the
# settings file at /etc/pushdeploy/agent.toml and enables the systemd unit, so `run` starts at boot.
# Docker keeps its data in /var/lib/docker between boots: the layer cache stays warm.
# --dry-run prints every command instead of running it. Run from a checkout of the repository
# (the agent package shares ../chalicelib).
set -euo pipefail

PREFIX=/opt/pushdeploy
CONFIG_DIR=/etc/pushdeploy
STATE_DIR=/var/lib/pushdeploy
AGENT_USER=pushdeploy
UNIT_PATH=/etc/systemd/system/pushdeploy-agent.service
OS_RELEASE=${PUSHDEPLOY_OS_RELEASE:-/etc/os-release}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WRITE_ENV='import sys; from agent.config import load_config, write_env_file; write_env_file(load_config(sys.argv[1]), sys.argv[2])'
REPO_ROOT=$(cd "$HERE/.." && pwd)

config=""
start=0
dry_run=0

usage() {
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "install.sh: error: $*" >&2
  exit 1
}

step() {
  echo "[install] $*"
}

run() {
  if [ "$dry_run" -eq 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --config) [ $# -ge 2 ] || die "--config needs a file"; config=$2; shift 2 ;;
      --start) start=1; shift ;;
      --dry-run) dry_run=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
  done
  if [ -z "$config" ] && [ ! -f "$CONFIG_DIR/agent.toml" ]; then
    die "--config FILE is required (no $CONFIG_DIR/agent.toml yet); see docs/agent.md for its keys"
  fi
  if [ -n "$config" ] && [ ! -f "$config" ]; then
    die "settings file not found: $config"
  fi
  if [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo), or with --dry-run to see the commands"
  fi
}

os_family() {
  [ -r "$OS_RELEASE" ] || die "cannot read $OS_RELEASE to tell the distribution"
  local id id_like
  # shellcheck source=/dev/null
  id=$(. "$OS_RELEASE" && echo "${ID:-}")
  # shellcheck source=/dev/null
  id_like=$(. "$OS_RELEASE" && echo "${ID_LIKE:-}")
  case "$id $id_like" in
    amzn*) echo amazon ;;
    debian*|ubuntu*|*debian*) echo debian ;;
    *) die "unsupported distribution '$id' (supported: Amazon Linux 2023, Debian, Ubuntu)" ;;
  esac
}

install_packages() {
  case "$1" in
    amazon)
      step "packages: docker git python3 (dnf)"
      run dnf install -y docker git python3 python3-pip
      ;;
    debian)
      step "packages: docker.io git python3 python3-venv (apt)"
      run env DEBIAN_FRONTEND=noninteractive apt-get update
      run env DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io git python3 python3-venv ca-certificates
      ;;
  esac
  run systemctl enable --now docker
}

create_user() {
  step "user $AGENT_USER in group docker"
  if ! id -u "$AGENT_USER" >/dev/null 2>&1; then
    run useradd --system --home-dir "$STATE_DIR" --create-home --shell /usr/sbin/nologin "$AGENT_USER"
  fi
  run usermod -aG docker "$AGENT_USER"
}

install_agent() {
  step "agent and git-remote-codecommit into $PREFIX/venv"
  run mkdir -p "$PREFIX/docs"
  run python3 -m venv "$PREFIX/venv"
  run "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
  run "$PREFIX/venv/bin/pip" install --quiet "$REPO_ROOT/agent" git-remote-codecommit
  run install -m 0644 "$REPO_ROOT/docs/agent.md" "$PREFIX/docs/agent.md"
}

install_settings() {
  step "settings in $CONFIG_DIR/agent.toml"
  run install -d -m 0755 "$CONFIG_DIR"
  if [ -n "$config" ]; then
    run "$PREFIX/venv/bin/python" -c 'import sys; from agent.config import load_config; load_config(sys.argv[1])' "$config"
    run install -m 0640 -o root -g "$AGENT_USER" "$config" "$CONFIG_DIR/agent.toml"
    if [ ! -f "$CONFIG_DIR/agent.env" ]; then
      # what run and the stop hook need to ask for the builder's stop when the settings file does not load
      # (on EC2 the template's user data writes it from its own resources)
      run "$PREFIX/venv/bin/python" -c "$WRITE_ENV" "$config" "$CONFIG_DIR/agent.env"
    fi
  fi
  run install -d -m 0750 -o "$AGENT_USER" -g "$AGENT_USER" "$STATE_DIR"
}

install_unit() {
  step "systemd unit $UNIT_PATH"
  run install -m 0644 "$HERE/systemd/pushdeploy-agent.service" "$UNIT_PATH"
  run systemctl daemon-reload
  run systemctl enable pushdeploy-agent.service
  if [ "$start" -eq 1 ]; then
    run systemctl start pushdeploy-agent.service
  fi
}

main() {
  parse_args "$@"
  local family
  family=$(os_family)
  step "distribution family: $family"
  install_packages "$family"
  create_user
  install_agent
  install_settings
  install_unit
  step "done: the agent runs at boot (journalctl -u pushdeploy-agent); check the settings with" \
       "'$PREFIX/venv/bin/pushdeploy-agent --config $CONFIG_DIR/agent.toml build --help'"
}

main "$@"
