"""The doit task graph: the registry of task kinds (tasks.kinds) and the config, turned into doit task dicts.

    _lock -> _start --------------------------------------------------------------------> notify
    _lock -> _check_rclone:NAME, _check_mounts:NAME, _check_space:NAME -> _backup:NAME --> notify
             check_rclone:NAME ...  (each reports its own result)       backup:NAME (reports its checks and itself)
    _lock -> verify:NAME, restore:NAME, drill:NAME            (on demand, not part of a full run)
    test_notify                                               (on demand, takes no lock)

A kind that is part of a full run has two tasks per backup: a hidden one (`_KIND:NAME`) that does the work, writes
a result file and never fails in doit's sense, because doit does not run a task whose dependency failed and
`notify` must run after every backup; and the visible one, which reads the result, prints it and fails when the
work failed, so cron and a person at the terminal both see a non-zero exit code.

A config problem blocks only what it must: while there is any, a full run and every task of it refuse (CRITICAL,
exit 1, nothing copied or deleted); on-demand tasks work for every backup the problems do not touch.
"""

import dataclasses
import datetime
import logging
import multiprocessing
import os
import sys
import time
from pathlib import Path

import doit
from doit.exceptions import TaskFailed

from tasks import config, file_safety, kinds, lock, logs
from tasks.doit_cli import QuietReporter
from tasks.job import Run, record
from tasks.notify import refuse, report

LOCK_TASK = "_lock"


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything the tasks of one doit invocation need: the config (with its problems) and the run."""

    config: config.Config
    run: Run

    @property
    def doit_config(self) -> dict:
        return {
            "backend": "sqlite3",  # the default dbm differs by interpreter and can lock out `doit list`
            "dep_file": self._dep_file,
            "default_tasks": ["notify"],
            "continue": True,      # one failed task must not stop the other backups
            "par_type": "thread",  # the run lock lives in this process; workers wait on rclone, not the CPU
            "reporter": QuietReporter.of(self.run),  # cron mails whatever is printed: the summary says it all
        }

    @property
    def _dep_file(self) -> str:
        """doit's own state (nothing the tool relies on: every task runs each time) beside the run's state; in
        memory when that folder cannot be written (a read-only mount, systemd's ProtectSystem), so doit starts and
        the run lock says what is wrong instead of a traceback."""
        writable = os.access(self.run.state_dir, os.W_OK)
        return str(self.run.state_dir / ".doit.sqlite") if writable else ":memory:"


def plan(variables: dict[str, str | None]) -> Plan:
    """Read the config named by the `config=` variable. Its problems are printed on stderr (so `doit list` and
    every on-demand task show them) and logged; they never raise, so `doit list` always works. Its warnings
    (which block nothing) are printed and logged beside them. The other variables: dry_run, date, target,
    overwrite, name, dest, snapshot, format, out, runs."""
    os.umask(0o077)  # copies, restores and state files are the owner's alone; children inherit it
    path = Path(variables["config"]).resolve() if variables.get("config") else config.DEFAULT_CONFIG
    found = config.read(path)
    logs.setup(found.log_file, found.log_level)
    if found.problems:
        logging.getLogger(logs.LOGGER).critical("invalid config: %s", found.report(), extra={"printed": True})
        print(f"WARNING: {found.report()}\nA full run and backup:NAME refuse to run until every problem is fixed; "
              "verify, restore and drill work for the backups no problem touches.", file=sys.stderr)
    if found.warnings:
        logging.getLogger(logs.LOGGER).warning("%s", found.warning_report(), extra={"printed": True})
        print(found.warning_report(), file=sys.stderr)
    run = Run(
        run_id=f"{time.time():.6f}-{os.getpid()}",
        config_path=path,
        state_dir=path.parent if path.parent.is_dir() else config.PROJECT_ROOT / "var",
        timeout=found.check_timeout_seconds,
        stall_timeout=found.stall_timeout_seconds,
        dry_run=_yes(variables.get("dry_run")),
        now=datetime.datetime.now().astimezone(),
        day=variables.get("date") or None,
        target=_from_caller(variables.get("target")),
        overwrite=_yes(variables.get("overwrite")),
        name=variables.get("name") or None,
        destination=variables.get("dest") or None,
        snapshot=variables.get("snapshot") or None,
        format=variables.get("format") or None,
        out=_from_caller(variables.get("out")),
        runs=variables.get("runs") or None,
        parallel_destinations=found.parallel_destinations,
        deadline=time.monotonic() + found.run_timeout_hours * 3600,
    )
    return Plan(found, run)


def _from_caller(path: str | None) -> str | None:
    """A relative `target=` means below the folder doit was started in, not dodo.py's folder (doit changes to it
    before loading dodo.py): the shell's $PWD when it names that folder (it keeps the caller's spelling, symbolic
    links included), else the folder doit found itself in."""
    if not path:
        return None
    started_in = doit.get_initial_workdir() or os.getcwd()
    shell = os.environ.get("PWD", "")
    try:
        caller = shell if os.path.isabs(shell) and os.path.samefile(shell, started_in) else started_in
    except OSError:
        caller = started_in
    return os.path.join(caller, os.path.expanduser(path))


def _yes(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def tasks(plan: Plan):
    """Yield every task dict of the graph."""
    yield {"basename": LOCK_TASK, "doc": "one run at a time",
           "actions": [(_take_lock, [plan.run, plan.config.lock_wait_seconds])]}
    registry = kinds.registry()
    for kind in registry.values():
        if kind.per_backup:
            yield from _backup_tasks(kind, plan)
        else:
            yield _host_task(kind, plan, registry)


def _backup_tasks(kind: kinds.Kind, plan: Plan):
    """The tasks of a per-backup kind: for each usable backup its work (and report), for each unusable one a task
    that says why it cannot run."""
    refused = kind.in_full_run and bool(plan.config.problems)
    if not kind.listed_each:
        yield {"basename": kind.name, "name": None, "doc": kind.doc}
    if kind.in_full_run and not refused:
        yield {"basename": _hidden(kind.name), "name": None, "doc": f"the work of {kind.name}, into result files"}
    for backup in plan.config.backups:
        task = kinds.task_name(kind.name, backup.name)
        doc = kind.describe(backup) if kind.describe else f"{kind.name} {backup.name}"
        if refused:
            yield _visible(kind, backup.name, doc=doc, actions=[(refuse, [plan.config, task, False])])
        elif kind.in_full_run:
            yield {"basename": _hidden(kind.name), "name": backup.name,
                   "task_dep": [LOCK_TASK] + [_hidden(kinds.task_name(after, backup.name)) for after in kind.after],
                   "actions": [(record, [kind, backup, plan.run])]}
            shown = [kinds.task_name(after, backup.name) for after in kind.after] + [task]
            yield _visible(kind, backup.name, doc=doc, task_dep=[_hidden(task)],
                           actions=[(report, [shown, plan.run])])
        else:
            yield _visible(kind, backup.name, doc=doc, task_dep=[LOCK_TASK],
                           actions=[(record, [kind, backup, plan.run]), (report, [[task], plan.run])])
    for name in plan.config.unusable_backups:
        task = kinds.task_name(kind.name, name)
        yield _visible(kind, name, doc=f"NOT USABLE: the config entry of {name} has problems",
                       actions=[(refuse, [plan.config, task, False])])


def _visible(kind: kinds.Kind, backup_name: str, **fields) -> dict:
    where = ({"basename": kinds.task_name(kind.name, backup_name)} if kind.listed_each
             else {"basename": kind.name, "name": backup_name})
    return {**where, "verbosity": 2, **fields}


def _hidden(name: str) -> str:
    """The task that does the work of visible task `name`; doit hides names that start with `_`."""
    return f"_{name}"


def _host_task(kind: kinds.Kind, plan: Plan, registry: dict) -> dict:
    """A kind that runs once per run: after every backup's task of the kinds it follows."""
    task = {"basename": kind.name, "doc": kind.doc, "verbosity": 2}
    if kind.in_full_run and plan.config.problems:
        return {**task, "actions": [(refuse, [plan.config, "a full run", True])]}
    after = [_hidden(kinds.task_name(name, backup.name)) if registry[name].per_backup else name
             for name in kind.after for backup in (plan.config.backups if registry[name].per_backup else [None])]
    return {**task, "task_dep": ([LOCK_TASK] if kind.in_full_run else []) + after, "actions": [(kind.work, [plan])]}


def _take_lock(run: Run, wait_seconds: int):
    """One run at a time, in state folders only this user can change (checked before any work starts)."""
    if multiprocessing.parent_process() is not None:
        return TaskFailed("the run lock must be held by the doit process itself: use -P thread with -n")
    try:
        lock.acquire(run.state_dir / "run.lock", wait_seconds)
        file_safety.private_folder(run.results_dir, "results folder")
        file_safety.private_folder(run.lists_dir, "file lists folder")
    except (lock.LockHeld, file_safety.Unsafe) as error:
        logging.getLogger(logs.LOGGER).error("%s", error)
        return TaskFailed(str(error))
    return True
