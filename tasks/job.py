"""What a kind of work on one backup acts on (a Job), what all tasks of one run share (a Run), and the one place
that turns a step that cannot go on (Stop) into an alert that says what it means for the data.
"""

import dataclasses
import datetime
import functools
import logging
import threading
import time
from pathlib import Path

from doit.exceptions import TaskFailed

from tasks import kinds, logs, results
from tasks.config import Backup
from tasks.rclone import Rclone
from tasks.tool_errors import ToolError


@dataclasses.dataclass(frozen=True)
class Run:
    """What every task of one doit run shares, including the command line's variables."""

    run_id: str
    config_path: Path             # the config file in use, for messages that say what to change
    state_dir: Path
    timeout: float                # bound of every probe
    stall_timeout: float          # a walk, hash or copy with no progress for this long is stopped
    dry_run: bool
    now: datetime.datetime
    day: str | None = None        # date=YYYY-MM-DD for verify and restore
    target: str | None = None     # target=PATH for restore
    overwrite: bool = False       # overwrite=1 for restore
    name: str | None = None       # name=NAME for secret_set
    destination: str | None = None  # dest=N or remote name for verify, restore and drill
    snapshot: str | None = None   # snapshot=ID for restore from a restic repository
    format: str | None = None     # format=text|json|html for status
    out: str | None = None        # out=PATH for status
    runs: str | None = None       # runs=N for log
    parallel_destinations: int = 2  # destinations of one backup worked on at once
    deadline: float | None = None  # time.monotonic() at which whatever still runs is stopped, progress or not

    @property
    def today(self) -> datetime.date:
        return self.now.date()

    @property
    def results_dir(self) -> Path:
        return self.state_dir / "results"

    @property
    def lists_dir(self) -> Path:
        return self.state_dir / "lists"


class Stop(Exception):
    """A step cannot go on: the alert it leaves (level, message, metrics) and, for a backup that did not run, the
    status "skipped". `record` adds what that means for the data, from `Job.consequence`, so no step says it."""

    def __init__(self, level: str, message: str, status: str | None = None, **metrics):
        super().__init__(message)
        self.level, self.message, self.status, self.metrics = level, message, status, metrics


class Reported(TaskFailed):
    """A failure whose reason a person has just read (the summary printed above it): doit's reporter
    (tasks.graph.QuietReporter) prints only `unseen`, what the summary does not say; the log's end line keeps the
    whole reason."""

    def __init__(self, reason: str, unseen: str = ""):
        super().__init__(reason)
        self.unseen = unseen


@dataclasses.dataclass
class Job:
    """One kind of work on one backup in one run: the backup entry, its rclone, the run and the result to fill."""

    backup: Backup
    run: Run
    result: results.Result
    consequence: str = ""   # what a Stop means for the data at this point; steps update it as they go

    @functools.cached_property
    def rclone(self) -> Rclone:
        return Rclone(self.backup.rclone, self.run.timeout, self.run.stall_timeout, self.run.deadline)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"{logs.LOGGER}.{self.backup.name}")

    def state_file(self, suffix: str) -> Path:
        """A private working file of this backup in the state folder, e.g. its frozen file list."""
        return self.run.lists_dir / f"{self.backup.name}.{suffix}"

    def destination_file(self, suffix: str) -> Path:
        """A private working file of this job's destination: a backup's destinations are worked on at once."""
        return self.state_file(suffix + self.backup.destination_tag)


def record(kind: kinds.Kind, backup: Backup, run: Run) -> bool:
    """Do one kind of work on one backup and write its result file. Never fails in doit's sense: the verdict is in
    the result (see tasks.graph)."""
    task = kinds.task_name(kind.name, backup.name)
    job = Job(backup, run, results.Result(task=task, backup=backup.name, run_id=run.run_id, dry_run=run.dry_run))
    perform(job, kind.work)
    for alert in job.result.alerts:
        job.log.log(logging.getLevelName(alert.level), "%s: %s", kind.name, alert.message)
    _log_rclone_version(job)
    results.write(run.results_dir, job.result)
    return True


_versions_logged: set[tuple[str, str]] = set()
_versions_lock = threading.Lock()


def _log_rclone_version(job: Job) -> None:
    """The rclone version of a run, in the log once (per version), when the first check_rclone found it: asking
    rclone only for the log would cost a process per run."""
    version = job.result.metrics.get("rclone_version")
    with _versions_lock:
        if not version or (job.run.run_id, version) in _versions_logged:
            return
        _versions_logged.add((job.run.run_id, version))
    logging.getLogger(logs.LOGGER).info("rclone %s (%s)", version, job.backup.rclone.binary)


def perform(job: Job, work) -> results.Result:
    """Run `work(job)`: a Stop (or an rclone failure) becomes its alert plus what it means for the data; an
    unexpected error becomes an ERROR alert the same way, never a crash. The one place that decides this."""
    started = time.monotonic()
    try:
        work(job)
    except (Stop, ToolError) as failure:
        stop = as_stop(failure)
        message = _with_consequence(stop.message, job.consequence)
        job.result.alert(stop.level, message, **stop.metrics)
        job.result.escalate(stop.status or job.result.status, message)
    except Exception as error:
        job.log.exception("%s: stopped by an unexpected error", kinds.kind_of(job.result.task))
        job.result.alert("ERROR", _with_consequence(f"stopped by an unexpected error ({type(error).__name__}); "
                                                    "see the log", job.consequence))
    job.result.duration_s = round(job.result.duration_s + time.monotonic() - started, 3)  # steps add up
    return job.result


def as_stop(failure: Stop | ToolError) -> Stop:
    """A program's failure (rclone, restic, the dump tool) a step did not explain further stops the step like any
    other; its message is already in plain words, and a cause a person must fix (a refused login, an expired
    token) is CRITICAL."""
    if isinstance(failure, Stop):
        return failure
    return Stop("CRITICAL" if failure.needs_action else "ERROR", str(failure))


def _with_consequence(message: str, consequence: str) -> str:
    return f"{message.rstrip('.')}. {consequence}" if consequence else message
