"""Result records: what each check and backup did, written atomically as one JSON file per task.

These files are the only channel between tasks: a backup reads its checks' results, `notify` reads them all.
Their folder is the tool's own (0700, refused when another user owns it or others may write it), a result is
written to a new temporary file and renamed over the old one, and read without following a symbolic link.
"""

import dataclasses
import json
import os
import stat
import tempfile
from pathlib import Path

from tasks import clock, file_safety

LEVELS = ("INFO", "WARNING", "ERROR", "CRITICAL")

#: Worst last. "skipped" ranks with "failed": a backup that did not run is not a success.
STATUSES = ("ok", "warning", "skipped", "failed")
_STATUS_OF_LEVEL = {"INFO": "ok", "WARNING": "warning", "ERROR": "failed", "CRITICAL": "failed"}


def now_iso() -> str:
    """Now, as every moment a person reads is written (tasks.clock)."""
    return clock.stamp()


@dataclasses.dataclass
class Alert:
    level: str
    subject: str          # the backup name, or the check and backup it concerns
    message: str
    time: str = dataclasses.field(default_factory=now_iso)
    metrics: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Result:
    task: str             # doit task name, e.g. "backup:contabo1" or "check_space:contabo1"
    backup: str
    run_id: str           # identifies the doit run that wrote it: results of other runs are stale
    status: str = "ok"
    reason: str = ""
    started: str = dataclasses.field(default_factory=now_iso)
    duration_s: float = 0.0
    dry_run: bool = False
    destination: str = ""  # the dated folder, secrets masked
    files: int = 0
    bytes: int = 0
    newest_file: str | None = None
    pruned: list[str] = dataclasses.field(default_factory=list)
    alerts: list[Alert] = dataclasses.field(default_factory=list)
    metrics: dict = dataclasses.field(default_factory=dict)
    destinations: list[dict] = dataclasses.field(default_factory=list)  # each one's outcome, with several

    def alert(self, level: str, message: str, **metrics) -> None:
        """Record an alert; the status becomes at least as bad as the alert's level implies."""
        self.alerts.append(Alert(level=level, subject=self.task, message=message, metrics=metrics))
        self.escalate(_STATUS_OF_LEVEL[level], message)

    def escalate(self, status: str, reason: str) -> None:
        if STATUSES.index(status) > STATUSES.index(self.status):
            self.status, self.reason = status, reason

    @property
    def succeeded(self) -> bool:
        return self.status in ("ok", "warning")


def result_path(folder: Path, task: str, dry_run: bool = False) -> Path:
    """A dry run's result has a file of its own: it never stands in for the last real run (`doit status`)."""
    return folder / (task.replace(":", "-") + (".dry-run" if dry_run else "") + ".json")


def write(folder: Path, result: Result) -> Path:
    """Write `result` into `folder` (created 0700); file_safety.Unsafe when the folder cannot be trusted."""
    target = result_path(folder, result.task, result.dry_run)
    write_json(target, dataclasses.asdict(result))
    return target


def write_json(target: Path, data) -> None:
    """Write atomically (temp file, fsync, rename): a reader never sees half a file. Readable by the owner only.
    The temporary file is new (O_EXCL) and the rename replaces a symbolic link at `target` rather than following
    it; the folder must be the tool's own (file_safety.Unsafe otherwise)."""
    file_safety.private_folder(target.parent, "results folder")
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="surrogateescape") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read(folder: Path, task: str, run_id: str) -> Result | None:
    """The result `task` wrote in this run (a real run or a dry run), or None when there is none (not run,
    crashed, or stale)."""
    for dry_run in (False, True):
        found = read_any(folder, task, dry_run)
        if found and found.run_id == run_id:
            return found
    return None


def read_any(folder: Path, task: str, dry_run: bool = False) -> Result | None:
    """The last result `task` wrote in a real run (or a dry run), of whichever run, or None (never run, or
    unreadable)."""
    try:
        data = json.loads(_read_private(result_path(folder, task, dry_run)))
        data["alerts"] = [Alert(**alert) for alert in data.get("alerts", [])]
        return Result(**data)
    except (OSError, json.JSONDecodeError, TypeError):  # missing, a link, not a regular file, another version
        return None


def read_summary(folder: Path) -> dict | None:
    """The last full run's summary (summary.json), or None."""
    try:
        return json.loads(_read_private(folder / "summary.json"))
    except (OSError, json.JSONDecodeError):
        return None


def _read_private(path: Path) -> str:
    """The text of a result file; OSError when it is missing, a symbolic link (ELOOP), or not a regular file (a
    FIFO or device planted there would block or never end)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(f"{path} is not a regular file")
    with open(descriptor, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()
