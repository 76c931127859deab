#!/usr/bin/env bash
# Set up (with the test requirements), then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The fault tests need FUSE (a mount that hangs) and Debian's old rclone 1.60 (the "too old" warning), the progress
# tests tmux, the mail test Chromium, the unit file tests systemd-analyze, the database tests a MariaDB server and
# its mariadb-dump (and zstd), the restic tests restic; as root on Debian the missing ones are installed here, elsewhere those
# tests say why they skip.
missing=""
command -v fusermount3 >/dev/null || missing+=" fuse3"
[ -x /usr/bin/rclone ] || missing+=" rclone"
command -v tmux >/dev/null || missing+=" tmux"
command -v chromium >/dev/null || missing+=" chromium"
command -v systemd-analyze >/dev/null || missing+=" systemd"
[ -x /usr/sbin/mariadbd ] || missing+=" mariadb-server"
command -v mariadb-dump >/dev/null || missing+=" mariadb-client"
command -v restic >/dev/null || missing+=" restic"
command -v zstd >/dev/null || missing+=" zstd"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing$missing for the tests that need them"
    # $missing unquoted: one word a package
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
        || echo "test: could not install them; the tests that need them will skip" >&2
elif [ -n "$missing" ]; then
    echo "test: the tests that need$missing will skip; install them (Debian: apt-get install$missing)" >&2
fi
scripts/setup.sh requirements-dev.txt
echo "test: lint (ruff) and generated config docs"
.venv/bin/ruff check --quiet .
.venv/bin/python scripts/config_docs.py --check
# Four workers: the tests mostly wait on rclone, restic, MariaDB and doit processes, not the CPU (measured: 13.4 min
# in one process, 5.8 min in four, on two cores).
exec .venv/bin/python -m pytest -n 4 "$@"
