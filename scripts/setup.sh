#!/usr/bin/env bash
# Sets up everything moodmusic needs on a fresh Debian machine with Python 3.11:
# system packages (when run as root with apt), a virtual environment in .venv,
# torch's CPU build first (so nothing pulls a CUDA build), then the rest.
# Usage: scripts/setup.sh [--dev]   (--dev adds test tools and Chromium)
# Idempotent: a second run with unchanged requirements takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(libportaudio2 ffmpeg libsndfile1)
[ $dev = 1 ] && apt_packages+=(chromium fonts-noto-color-emoji postgresql haproxy coturn)  # the emoji font: without it headless Chromium draws emoji as boxes in screenshots; PostgreSQL, HAProxy and coturn: the serving tests start real ones on loopback
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages: ${missing[*]} (sudo apt-get install ...)" >&2
  fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)

stamp=.venv/.moodmusic-$(cat requirements.txt requirements-dev.txt pyproject.toml | sha1sum | cut -c1-12)-$dev
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into .venv (first run takes a few minutes)"
  # requirements.txt names PyTorch's CPU index for hosted Streamlit; here torch's
  # CPU build comes first from pip's own sources, and the rest without that index.
  local_reqs=$(mktemp)
  grep -v '^--extra-index-url' requirements.txt > "$local_reqs"
  [ $dev = 1 ] && grep -v '^-r ' requirements-dev.txt >> "$local_reqs"
  "${pip[@]}" "$(grep '^torch==' requirements.txt)"
  "${pip[@]}" -r "$local_reqs"
  rm -f "$local_reqs"
  "${pip[@]}" --no-deps -e .
  touch "$stamp"
fi
