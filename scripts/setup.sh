#!/usr/bin/env bash
# Install what pushdeploy's tests and demo need on this machine, idempotently:
#  - as root on Debian/Ubuntu: the real parts (Docker engine, distribution registry, busybox
#    for the offline base image, git, openssh client and server, chromium and chromium-driver for the
#    dashboard's browser test) when they are missing;
#  - a virtualenv in .venv with requirements-dev.txt.
# Elsewhere (a laptop with Docker) it only makes the virtualenv and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
command -v busybox >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
# ssh deploy keys are tested against a private sshd (tests/git/test_fetch_ssh_deploy_key.py)
command -v ssh >/dev/null 2>&1 || need_pkgs+=(openssh-client)
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
# the dashboard is tested in real headless Chromium, driven by selenium (tests/e2e/test_dashboard_browser.py)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    say "not installed (install them, or run as root on Debian): ${need_pkgs[*]}"
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt agent/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python requirements into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
# The wheels `chalice deploy` packages, so tests/test_chalice_deploy.py deploys with no package index.
wheelhouse=.venv/wheelhouse
wh_stamp=.venv/.wheelhouse.sha
wh_want=$(cat requirements.txt scripts/fill_wheelhouse.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$wh_stamp" 2>/dev/null)" != "$wh_want" ] || [ ! -d "$wheelhouse" ]; then
  say "filling $wheelhouse with the wheels chalice packages (requirements.txt)"
  rm -rf "$wheelhouse"
  .venv/bin/python scripts/fill_wheelhouse.py "$wheelhouse" requirements.txt
  echo "$wh_want" > "$wh_stamp"
fi
say "ready"
