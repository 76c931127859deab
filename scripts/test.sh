#!/usr/bin/env bash
# Set up (with the test requirements), then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The fault tests need FUSE (a mount that hangs) and Debian's old rclone 1.60 (the "too old" warning), the progress
# tests tmux, the mail test Chromium, the unit file tests systemd-analyze; as root on Debian they are installed
# here, elsewhere those tests say why they skip.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && { ! command -v fusermount3 >/dev/null \
        || [ ! -x /usr/bin/rclone ] || ! command -v tmux >/dev/null || ! command -v chromium >/dev/null \
        || ! command -v systemd-analyze >/dev/null; }; then
    echo "test: installing fuse3, Debian's rclone, tmux, chromium and systemd for the tests that need them"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 rclone tmux \
        chromium systemd >/dev/null || echo "test: could not install them; the tests that need them will skip" >&2
fi
scripts/setup.sh requirements-dev.txt
echo "test: lint (ruff) and generated config docs"
.venv/bin/ruff check --quiet .
.venv/bin/python scripts/config_docs.py --check
exec .venv/bin/python -m pytest "$@"
