"""Offsite backup copier: one doit task per backup in var/config.yaml (see README.md).

    doit                          run every backup, then print the summary (exit 1 if any failed)
    doit list                     the backups and their sources and destinations
    doit run backup:NAME          one backup with its checks
    doit dry_run=1                select, size and report; copy and delete nothing
    doit config=PATH ...          use another config file (its folder holds the run state)
"""

import doit

from tasks import graph

PLAN = graph.plan(doit.get_var("config"), doit.get_var("dry_run"))
DOIT_CONFIG = PLAN.doit_config


def task_offsite_backup():
    yield from graph.tasks(PLAN)
