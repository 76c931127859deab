"""Every backup at a glance, read from the destinations themselves and the last run's result files: how old the
newest complete copy is, what is incomplete, what retention deletes next, the last run, verify and drill.

No metrics are stored: each look lists the destinations again (one listing per destination, in parallel, each
bounded by check_timeout_seconds, so a remote that does not answer is a row that says so, never a hang) and reads
the result files and drill records that exist anyway. Read-only, no lock: it works while a run is going.
`state_of` and `folders_of` decide, without I/O; a full run uses the same rows for its stale alarm, so
`doit status` and the alarm cannot disagree.
"""

import dataclasses
import datetime
import json
from concurrent.futures import ThreadPoolExecutor

from tasks import integrity, results, retention
from tasks import rclone as rc
from tasks.actions import folders
from tasks.kinds import task_name


@dataclasses.dataclass
class Folder:
    """One dated folder, archive or snapshot at a destination."""

    name: str
    day: str
    files: int
    bytes: int
    sealed: bool
    deleted_next: bool = False   # the retention rules delete it on the next good run


@dataclasses.dataclass
class Row:
    """One backup at one destination."""

    backup: str
    where: str
    state: str = "NEVER"
    newest: str | None = None      # the newest complete copy's date
    age_days: int | None = None
    complete: int = 0
    incomplete: int = 0
    bytes: int | None = None
    free: int | None = None
    last_run: str | None = None    # status of the last run of this backup, and when it started
    last_run_at: str | None = None
    last_verify: str | None = None
    last_drill: str | None = None
    note: str = ""                 # what kept the look from seeing everything, e.g. a remote that did not answer
    folders: list[Folder] = dataclasses.field(default_factory=list)


def state_of(newest: datetime.date | None, today: datetime.date, max_age_days: int, last_run: str | None,
             answered: bool) -> str:
    """NEVER: no complete copy seen; STALE: the newest is older than max_age_days; FAILING: the last run failed
    (or the destination does not answer); OK otherwise."""
    if not answered:
        return "FAILING"
    if newest is None:
        return "NEVER"
    if (today - newest).days > max_age_days:
        return "STALE"
    return "FAILING" if last_run in ("failed", "skipped") else "OK"


def folders_of(backup, files: list[tuple[str, int]], today: datetime.date) -> list[Folder]:
    """The dated folders in a recursive listing of a destination, with their files, bytes, seal and whether the
    next good run deletes them (tasks.retention.plan, the rule a run applies once today's folder is sealed). Pure."""
    sizes: dict[str, list[int]] = {}
    sealed = set()
    for path, size in files:
        top, _, below = path.partition("/")
        if below in (integrity.SUMS_NAME, integrity.HMAC_NAME):
            sealed |= {top} if below == integrity.SUMS_NAME else set()
            sizes.setdefault(top, [])
        elif below:
            sizes.setdefault(top, []).append(size)
    dated, _ = retention.dated_folders(backup.name, sizes, today)
    todays = retention.folder_name(backup.name, today)  # what the next good run seals before it prunes
    doomed = set(retention.plan(backup.name, [*dated, todays], today, backup.retention,
                                (sealed & set(dated)) | {todays}).delete)
    return [Folder(name, dated[name].isoformat(), len(sizes[name]), sum(sizes[name]), name in sealed,
                   name in doomed) for name in sorted(dated, key=dated.get)]


def collect(config, run, names: list[str] | None = None, ask_free: bool = True) -> list[Row]:
    """A row for each backup (or those `names`) and destination, looked at in parallel. `ask_free`: ask each
    remote its free space when this run's check_space did not measure it (a full run does not: one process less
    per destination)."""
    wanted = [(backup.at(index), index) for backup in config.backups if not names or backup.name in names
              for index in range(len(backup.destinations))]
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(wanted)))) as pool:
        return list(pool.map(lambda pair: _look(pair[0], pair[1], run, ask_free), wanted))


def _look(backup, index: int, run, ask_free: bool) -> Row:
    row = Row(backup.name, rc.redact(backup.rclone_path))
    last, metrics = _last_run(run, backup.name, index)
    if last:
        row.last_run, row.last_run_at = metrics.pop("status", last.status), last.started
    row.last_verify = _outcome(run, "verify", backup.name, index)
    row.last_drill = _drill(run, backup, index)
    newest, answered = None, True
    try:
        if backup.engine == "restic" and last and last.run_id == run.run_id and metrics.get("snapshot") \
                and row.last_run in ("ok", "warning"):  # a snapshot made in this very run: no second look
            newest, row.complete = run.today, metrics.get("snapshots", 0)
        else:
            newest = _newest(backup, row, run, ask_free)
    except (rc.RcloneError, OSError, ValueError) as error:
        answered, row.note = False, rc.redact(str(error))
    if backup.engine == "restic":  # the repository's size as its last run's `restic stats` measured it
        row.bytes = metrics.get("repository_bytes")
    row.newest = newest.isoformat() if newest else None
    row.age_days = (run.today - newest).days if newest else None
    row.state = state_of(newest, run.today, backup.max_age_days, row.last_run, answered)
    return row


def _last_run(run, name: str, index: int, kind: str = "backup") -> tuple[results.Result | None, dict]:
    """The last result of `kind` for the backup, and its measurements (with `status`) at destination `index` when
    it has several."""
    last = results.read_any(run.results_dir, task_name(kind, name))
    if last is None:
        return None, {}
    if last.destinations and index < len(last.destinations):
        entry = last.destinations[index]
        return last, {**entry["metrics"], "status": entry["status"]}
    return last, dict(last.metrics)


def _newest(backup, row: Row, run, ask_free: bool) -> datetime.date | None:
    """List the destination (dated folders, an archive's manifest or a restic repository's snapshots)."""
    if backup.engine == "restic":
        from tasks import restic_engine  # restic's modules only where restic is used

        snapshots = restic_engine.snapshots_for_status(backup, run)
        row.folders = [Folder(snapshot["short_id"], snapshot["time"][:10], 0, 0, True) for snapshot in snapshots]
        row.complete = len(snapshots)
        return datetime.date.fromisoformat(snapshots[-1]["time"][:10]) if snapshots else None
    rclone = rc.Rclone(backup.rclone, run.timeout)
    files = rclone.list_files(backup.rclone_path, missing_ok=True, bounded=True)
    row.bytes = sum(size for _, size in files)
    row.free = _free(rclone, backup, run, ask_free)
    if backup.mode == "archive":
        manifest = rclone.read_text(rc.join(backup.rclone_path, integrity.ARCHIVE_NAME)) or ""
        days = [line.split()[2] for line in manifest.splitlines() if line.startswith(("# archived ", "# checked "))]
        row.complete = len(integrity.parse(manifest))
        return datetime.date.fromisoformat(days[-1]) if days else None
    row.folders = folders_of(backup, files, run.today)
    row.bytes = sum(folder.bytes for folder in row.folders)  # this backup's, not its neighbours' at the same path
    sealed = [folder for folder in row.folders if folder.sealed]
    row.complete, row.incomplete = len(sealed), len(row.folders) - len(sealed)
    return datetime.date.fromisoformat(sealed[-1].day) if sealed else None


def _free(rclone, backup, run, ask: bool) -> int | None:
    """Free space as this run's check_space measured it, else asked now when `ask` (None: not known)."""
    checked, metrics = _last_run(run, backup.name, backup.index, "check_space")
    if checked and checked.run_id == run.run_id and "free_bytes" in metrics:
        return metrics["free_bytes"]
    if not ask:
        return None
    try:
        return rclone.free_bytes(backup.rclone_path)
    except rc.RcloneError:
        return None


def _outcome(run, kind: str, name: str, index: int) -> str | None:
    """The last `verify:NAME` (or `drill:NAME`) there was at destination `index`, and how it ended."""
    found = results.read_any(run.results_dir, task_name(kind, name))
    if found is None or found.metrics.get("destination_index") != index:  # unknown: not claimed for any
        return None
    return f"{found.started[:10]} {found.status}"


def _drill(run, backup, index: int) -> str | None:
    """The last drill that passed (its record), else the last drill task's outcome."""
    try:
        return f"{folders.drill_record(run.state_dir, backup).read_text().strip()} ok"
    except OSError:
        return _outcome(run, "drill", backup.name, index)


def as_json(rows: list[Row]) -> str:
    return json.dumps([dataclasses.asdict(row) for row in rows], indent=2, ensure_ascii=False)
