"""The doit task graph, built from the validated config, and the actions the tasks run.

    _lock -> _start -----------------------------------------------------------------> notify
    _lock -> check_rclone:NAME, check_mounts:NAME, check_space:NAME -> _backup:NAME -> notify
                                                                                   -> backup:NAME
    _lock -> verify:NAME, restore:NAME, drill:NAME        (on demand, not part of a full run)

Checks and `_backup:NAME` never fail in doit's sense: they write a result file and succeed, because doit does not
run a task whose dependency failed, and `notify` must run after every backup. The verdict comes from the result
files: `notify` (a full run), `backup:NAME` (one backup) and the on-demand tasks read them, print the summary and
fail when anything failed, so cron and a person at the terminal both see a non-zero exit code.
"""

import dataclasses
import datetime
import multiprocessing
import logging
import os
import socket
import sys
import time
from pathlib import Path

from doit.exceptions import TaskFailed, UnmetDependency
from doit.reporter import ErrorOnlyReporter

from tasks import backup as backup_step
from tasks import checks, config, folders, lock, logs, render, results, summary
from tasks.notify import announce
from tasks.rclone import Rclone, redact

LOCK_TASK = "_lock"
CHECK_DOCS = {
    "check_rclone": "rclone runs, its config holds each destination's remote, and each destination answers",
    "check_mounts": "each source folder exists, is readable and is not an empty (unmounted) mount point",
    "check_space": "each destination reports at least min_free_gb free",
}


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything the tasks of one doit invocation need; `settings` is None when the config is invalid."""

    config_path: Path
    state_dir: Path
    settings: config.Config | None
    error: str | None
    run: backup_step.Run

    @property
    def doit_config(self) -> dict:
        return {
            "backend": "sqlite3",  # the default dbm differs by interpreter and can lock out `doit list`
            "dep_file": str(self.state_dir / ".doit.sqlite"),
            "default_tasks": ["notify"] if self.settings else ["config_error"],
            "continue": True,      # one failed task must not stop the other backups
            "par_type": "thread",  # the run lock lives in this process; workers wait on rclone, not the CPU
            "reporter": QuietReporter,  # cron mails whatever is printed: the summary says it all
        }


class QuietReporter(ErrorOnlyReporter):
    """doit's error-only reporter without the cascade of UnmetDependency lines one failed task causes."""

    def add_failure(self, task, fail_info):
        if not isinstance(fail_info, UnmetDependency):
            super().add_failure(task, fail_info)


def plan(variables: dict[str, str | None]) -> Plan:
    """Load the config named by the `config=` variable; a bad one becomes an error message, never an exception,
    so `doit list` still works. The other variables: dry_run, date, target, overwrite."""
    path = Path(variables["config"]).resolve() if variables.get("config") else config.DEFAULT_CONFIG
    state_dir = path.parent if path.parent.is_dir() else config.PROJECT_ROOT / "var"
    run = backup_step.Run(
        run_id=f"{time.time():.6f}-{os.getpid()}",
        state_dir=state_dir,
        timeout=60,
        stall_timeout=600,
        dry_run=_yes(variables.get("dry_run")),
        now=datetime.datetime.now().astimezone(),
        day=variables.get("date") or None,
        target=variables.get("target") or None,
        overwrite=_yes(variables.get("overwrite")),
    )
    try:
        settings = config.load(path)
    except config.ConfigError as error:
        logs.setup(error.log_file or config.PROJECT_ROOT / "log" / "backup.log")
        logging.getLogger(logs.LOGGER).critical("invalid config, nothing was done: %s", error)
        return Plan(path, state_dir, None, str(error), run)
    logs.setup(settings.log_file, settings.log_level)
    run = dataclasses.replace(run, timeout=settings.check_timeout_seconds,
                              stall_timeout=settings.stall_timeout_seconds)
    return Plan(path, state_dir, settings, None, run)


def _yes(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def tasks(plan: Plan):
    """Yield every task dict of the graph (or the single `config_error` task)."""
    if plan.settings is None:
        yield {"basename": "config_error", "doc": f"INVALID CONFIG: {plan.error.splitlines()[0]}",
               "actions": [(_fail, [plan.error, plan.config_path])], "verbosity": 2}
        return
    backups = plan.settings.backups
    notifications = plan.settings.notifications
    yield {"basename": LOCK_TASK, "doc": "one run at a time",
           "actions": [(_take_lock, [plan.state_dir / "run.lock", plan.settings.lock_wait_seconds])]}
    yield {"basename": "_start", "doc": "tell the monitors a full run started", "task_dep": [LOCK_TASK],
           "actions": [(_announce_start, [notifications])]}
    yield {"basename": "test_notify", "doc": "send a test message through every configured channel",
           "actions": [(_test_notify, [notifications])], "verbosity": 2}
    for check, doc in CHECK_DOCS.items():
        yield {"basename": check, "name": None, "doc": doc}
        for entry in backups:
            yield {"basename": check, "name": entry.name, "doc": f"{check} for {entry.name}",
                   "task_dep": [LOCK_TASK], "actions": [(_record, [f"{check}:{entry.name}", entry, plan.run])]}
    yield {"basename": "_backup", "name": None, "doc": "the work of each backup; results go to result files"}
    for entry in backups:
        yield {"basename": "_backup", "name": entry.name,
               "task_dep": [f"{check}:{entry.name}" for check in CHECK_DOCS],
               "actions": [(_record, [f"backup:{entry.name}", entry, plan.run])]}
    for entry in backups:  # top-level names, so that a plain `doit list` shows every backup
        yield {"basename": f"backup:{entry.name}", "doc": describe(entry),
               "task_dep": [f"_backup:{entry.name}"], "verbosity": 2,
               "actions": [(_report, [[f"{check}:{entry.name}" for check in CHECK_DOCS] + [f"backup:{entry.name}"],
                                      plan.run, None, None])]}
    for action, doc in ON_DEMAND_DOCS.items():
        yield {"basename": action, "name": None, "doc": doc}
        for entry in backups:
            task = f"{action}:{entry.name}"
            yield {"basename": action, "name": entry.name, "doc": f"{action} {entry.name}", "task_dep": [LOCK_TASK],
                   "verbosity": 2, "actions": [(_record, [task, entry, plan.run]),
                                               (_report, [[task], plan.run, None, None])]}
    yield {"basename": "notify", "doc": "run every backup, then report the summary (the default task)",
           "task_dep": ["_start"] + [f"_backup:{entry.name}" for entry in backups], "verbosity": 2,
           "actions": [(_report, [[f"{check}:{entry.name}" for entry in backups for check in CHECK_DOCS]
                                  + [f"backup:{entry.name}" for entry in backups],
                                  plan.run, plan.state_dir / "results" / "summary.json", notifications])]}


def describe(entry: config.Backup) -> str:
    """One line for `doit list`: source -> destination, filter, retention."""
    age = f"files newer than {entry.days} days" if entry.days else "all files"
    return (f"{entry.source_dir} -> {redact(entry.rclone_path)}/{entry.name}_YYYY-MM-DD; {age}, "
            f"max {entry.max_size_mb} MiB, keep {entry.retention.last}")


def _fail(message: str, config_path: Path):
    """Report an invalid config on stderr and, if its notification settings are sound, through the channels."""
    print(f"CRITICAL: invalid config, nothing was done.\n{message}", file=sys.stderr)
    notifications = config.usable_notifications(config_path)
    if notifications:
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        problem = summary.Line(task="config", status="failed", reason="invalid config, nothing was done")
        alert = results.Alert(level="CRITICAL", subject="config",
                              message=f"invalid config, nothing was done: {message}")
        report = summary.Summary(host=socket.gethostname(), started=now, dry_run=False, backups=(),
                                 checks=(problem,), alerts=(alert,))
        announce("run", notifications, report.host, report)
    return TaskFailed("invalid config")


def _take_lock(path: Path, wait_seconds: int):
    if multiprocessing.parent_process() is not None:
        return TaskFailed("the run lock must be held by the doit process itself: use -P thread with -n")
    try:
        lock.acquire(path, wait_seconds)
    except lock.LockHeld as error:
        logging.getLogger(logs.LOGGER).error("%s", error)
        return TaskFailed(str(error))
    return True


def _announce_start(notifications: config.Notifications) -> bool:
    """A monitor that misses the start ping is no reason to skip the backups: failures are only logged."""
    announce("start", notifications, socket.gethostname())
    return True


def _test_notify(notifications: config.Notifications):
    if not notifications.channels:
        return TaskFailed("no channel is configured under `notifications` in the config")
    failures = announce("test", notifications, socket.gethostname())
    for name in notifications.channels:
        print(f"{name}: {'FAILED' if any(f.startswith(name + ':') for f in failures) else 'sent'}")
    if failures:
        return TaskFailed("\n".join(failures))
    return True


def _rclone(entry: config.Backup, run: backup_step.Run) -> Rclone:
    return Rclone(entry.rclone, run.timeout, run.stall_timeout)


#: What each kind of task does, by the part of its name before the colon.
WORK = {
    "check_rclone": lambda entry, run, result: checks.check_rclone(entry, _rclone(entry, run), result),
    "check_mounts": lambda entry, run, result: checks.check_source(entry, run.timeout, result),
    "check_space": lambda entry, run, result: checks.check_space(entry, _rclone(entry, run), result),
    "backup": backup_step.run_backup,
    "verify": lambda entry, run, result: folders.verify(entry, _rclone(entry, run), result, run.day, run.now.date(),
                                                        run.lists_dir),
    "restore": lambda entry, run, result: folders.restore(entry, _rclone(entry, run), result, run.day,
                                                          run.now.date(), run.target, run.overwrite, run.dry_run,
                                                          progress=sys.stdout.isatty()),
    "drill": lambda entry, run, result: folders.drill(entry, _rclone(entry, run), result, run.now.date()),
}
ON_DEMAND_DOCS = {
    "verify": "check the newest (or date=YYYY-MM-DD) complete folder against its SHA256SUMS",
    "restore": "download a dated folder and check it: restore:NAME target=/path [date=YYYY-MM-DD] [overwrite=1]",
    "drill": "restore drill now: download a random sample of the newest complete folder and check it",
}


def _record(task: str, entry: config.Backup, run: backup_step.Run) -> bool:
    """Run one check or backup and write its result; an unexpected error becomes a failed result, not a crash."""
    log = logging.getLogger(f"{logs.LOGGER}.{entry.name}")
    result = results.Result(task=task, backup=entry.name, run_id=run.run_id, dry_run=run.dry_run)
    run.lists_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = time.monotonic()
    try:
        WORK[task.split(":")[0]](entry, run, result)
    except Exception as error:
        log.exception("%s stopped by an unexpected error", task)
        result.alert("ERROR", f"{task} stopped by an unexpected error ({type(error).__name__}); see the log")
    result.duration_s = round(time.monotonic() - started, 3)
    for alert in result.alerts:
        log.log(logging.getLevelName(alert.level), "%s: %s", task, alert.message)
    results.write(run.results_dir, result)
    return True


def _report(tasks: list[str], run: backup_step.Run, summary_file: Path | None,
            notifications: config.Notifications | None):
    """Print and log the summary of `tasks`, and send it when `notifications` are given.

    Fails (exit code 1) when any task failed or is missing, or when a channel could not deliver."""
    found = {task: results.read(run.results_dir, task, run.run_id) for task in tasks}
    started = datetime.datetime.fromtimestamp(float(run.run_id.split("-")[0])).strftime("%Y-%m-%d %H:%M")
    host = socket.gethostname()
    report = summary.build(tasks, found, host, started, run.dry_run)
    text = render.text(report)
    logging.getLogger(logs.LOGGER).info("summary\n%s", text, extra={"printed": True})
    print(text)
    if summary_file is not None:
        results.write_json(summary_file, dataclasses.asdict(report))
    failures = announce("run", notifications, host, report) if notifications else []
    problems = []
    if report.state == "failed":
        failed = [line.task for line in report.backups + report.checks if not line.succeeded]
        problems.append(f"failed: {', '.join(failed)}; see the summary above and the log")
    if failures:
        problems.append("notification failed: " + "; ".join(failures))
    if logs.failure():
        problems.append(logs.failure())
    return TaskFailed("\n".join(problems)) if problems else True
