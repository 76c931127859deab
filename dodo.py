"""Offsite backup copier: one doit task per backup in var/config.yaml (see README.md).

    doit                          run every backup, then print the summary (exit 1 if any failed)
    doit list                     the backups and their sources and destinations
    doit run backup:NAME          one backup with its checks
    doit dry_run=1                select, size and report; copy and delete nothing
    doit config=PATH ...          use another config file (its folder holds the run state)
    doit verify                   check the newest complete folder of every backup against its SHA256SUMS
    doit run restore:NAME target=/path [date=YYYY-MM-DD] [dest=N]   download a dated folder and check it
    doit secret_set name=NAME     store an API key or token in the encrypted keyring (asked for, never shown)
    doit status [name=NAME] [format=json|html out=PATH]   every backup's newest complete copy, read from the remotes
    doit log name=NAME [runs=N]   one backup's log lines of the last run

Where the work is: tasks/kinds.py lists how task kinds are declared, tasks/actions/ holds them (one module per
action: checks, backup, folders, messages), tasks/graph.py turns them and the config into the tasks below.
"""

import doit

from tasks import graph

PLAN = graph.plan({name: doit.get_var(name) for name in ("config", "dry_run", "date", "target", "overwrite",
                                                         "name", "dest", "snapshot", "format", "out",
                                                         "runs")})
DOIT_CONFIG = PLAN.doit_config


def task_offsite_backup():
    """Every task of every kind in tasks/actions, for every backup of the config (tasks.graph)."""
    yield from graph.tasks(PLAN)
