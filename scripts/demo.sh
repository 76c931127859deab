#!/usr/bin/env bash
# Set up, then run the whole backup job on the bundled demo config: var/demo/source -> var/demo/destination.
# No account, no network. Run it twice: the second run fills the same dated folder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p var/demo/destination
# git does not keep modification times: age one sample file so the 7-day filter has something to leave out
touch -d '40 days ago' var/demo/source/archive/last-year-report.txt
exec .venv/bin/doit -f dodo.py config=var/demo/config.yaml "$@"
