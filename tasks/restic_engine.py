"""`engine: restic` at one destination: a deduplicated, encrypted snapshot of the source (a folder, or the database
dumps) in a restic repository, then the retention keys applied (`forget --prune`), then a share of the data read
back (`check --read-data-subset`); and verify, restore and drill on the repository.

The steps raise Stop like every other engine's, so the same one place says what a failure means for the data; a
snapshot that could not read every source file is kept but nothing is forgotten that day. What a person reads
comes from restic's JSON (tasks.restic_tool), never from its text.
"""

import datetime
import os
import random
import re
import socket
import tempfile
import time
from pathlib import Path

from tasks import integrity
from tasks import rclone as rc
from tasks.job import Job, Stop
from tasks.restic_tool import MINIMUM_VERSION, Restic, ResticError, repository
from tasks.summary import format_bytes

SNAPSHOT_KEPT = "The new snapshot is in the repository; no snapshot was forgotten."
NOTHING_DONE = "No snapshot was made, none forgotten."


def tool(job: Job) -> Restic:
    return Restic(job.backup, job.backup.restic.password, job.run.state_dir, job.run.stall_timeout, job.run.deadline)


def tags(job: Job) -> list[str]:
    return [f"backup:{job.backup.name}"]


def where(job: Job) -> str:
    return rc.redact(repository(job.backup))


def check(job: Job) -> None:
    """restic runs and is new enough, the repository answers and the password opens it (or it is to be created),
    and no lock stands in the way: a stale one of this host is removed, any other reported."""
    restic = tool(job)
    try:
        version, parts = restic.version()
    except ResticError as error:
        raise Stop("CRITICAL", f"restic is missing or broken: {error}") from None
    job.result.metrics["restic_version"] = version
    if parts < MINIMUM_VERSION:
        raise Stop("CRITICAL", f"restic {version} is older than {'.'.join(map(str, MINIMUM_VERSION))}: install a "
                               "newer one (Debian: apt install restic) or set restic.binary")
    try:
        locks = restic.locks()  # opening the repository proves it is there and the password opens it
    except ResticError as error:
        if error.missing and job.backup.restic.init:
            job.result.alert("INFO", f"no restic repository at {where(job)} yet: this run creates it (init: true)")
            return
        raise _stop(job, error) from None
    _locks(job, locks)


def _stop(job: Job, error: ResticError) -> Stop:
    if error.missing:
        return Stop("CRITICAL", f"no restic repository at {where(job)}: create it (`restic init`, or "
                                "`restic.init: true` for this backup) or fix rclone_path")
    return Stop("CRITICAL" if error.needs_action else "ERROR", f"restic repository {where(job)}: {error}")


def _locks(job: Job, locks: list[dict]) -> None:
    host, now = socket.gethostname(), datetime.datetime.now(datetime.UTC)
    for lock in locks:
        hours = (now - _when(lock["time"])).total_seconds() / 3600
        gone = lock.get("hostname") == host and not _alive(int(lock.get("pid", 0)))
        who = f"{lock.get('hostname')} (pid {lock.get('pid')}, since {lock['time'][:19]})"
        if gone and hours >= job.backup.restic.stale_lock_hours:  # that one lock file, nothing else
            job.rclone.delete_file(rc.join(job.backup.rclone_path, "locks", lock["id"]))
            job.result.alert("INFO", f"removed a stale lock of {who} from {where(job)}: its process is gone")
        else:
            job.result.alert("WARNING", f"the restic repository at {where(job)} is locked by {who}; "
                             + ("its process is gone: it is removed once it is older than stale_lock_hours"
                                if gone else "a backup or prune may be running there"))


def _when(stamp: str) -> datetime.datetime:
    """restic's `2026-12-02T06:00:28.255689689Z` (nanoseconds, a zone or Z) as an aware time."""
    return datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def dry_run(job: Job) -> None:
    """What the snapshot would add (restic's own dry run), written nowhere."""
    job.result.destination = where(job)
    try:
        summary = tool(job).backup_folder(job.backup.source_dir, tags(job), socket.gethostname(), dry_run=True)
    except ResticError as error:
        if error.missing and job.backup.restic.init:
            job.result.alert("INFO", f"dry run: no restic repository at {where(job)} yet: a run would create it "
                                     f"and make a first snapshot of {job.backup.source_dir}")
            return
        raise _stop(job, error) from None
    job.result.reason = (f"dry run: a snapshot in {where(job)} would hold {summary.get('files_new')} new, "
                         f"{summary.get('files_changed')} changed and {summary.get('files_unmodified')} unchanged "
                         f"files, adding {format_bytes(int(summary.get('data_added') or 0))}; then forget and prune "
                         "by the retention keys, and check")
    job.result.alert("INFO", job.result.reason)


def back_up(job: Job) -> None:
    """Snapshot, forget and prune by the retention keys, check: the order that never forgets on a bad day."""
    job.consequence, job.result.destination = NOTHING_DONE, where(job)
    restic = tool(job)
    try:
        summary = restic.backup_folder(job.backup.source_dir, tags(job), socket.gethostname())
    except ResticError as error:
        if not (error.missing and job.backup.restic.init):
            raise _stop(job, error) from None
        restic.init()
        job.result.alert("INFO", f"created the restic repository at {where(job)}")
        summary = restic.backup_folder(job.backup.source_dir, tags(job), socket.gethostname())
    job.consequence = SNAPSHOT_KEPT
    job.result.metrics["snapshot"] = {key: summary.get(key) for key in (
        "snapshot_id", "files_new", "files_changed", "files_unmodified", "data_added", "total_files_processed",
        "total_bytes_processed", "total_duration")}
    job.result.files = summary.get("total_files_processed", 0)
    job.result.bytes = summary.get("total_bytes_processed", 0)
    if summary["incomplete"]:
        raise Stop("ERROR", f"snapshot {summary.get('snapshot_id')} was made without some source files, which "
                            "could not be read: " + "; ".join(summary["errors"]))
    policy = job.backup.retention
    job.result.pruned, job.result.metrics["snapshots"] = restic.forget(tags(job), socket.gethostname(), {
        "last": policy.last, "daily": policy.days, "weekly": policy.weeks, "monthly": policy.months})
    job.consequence = "The new snapshot is in the repository."
    subset = job.backup.restic.read_data_subset
    try:
        restic.check("" if subset in ("0", "0%") else subset)
    except ResticError as error:
        raise Stop("ERROR", f"restic check of {where(job)} found a problem: {error}. Run `doit run verify:"
                            f"{job.backup.name}` and `restic check --read-data` there") from None
    job.result.metrics["repository_bytes"] = restic.stats().get("total_size")
    job.result.metrics["verified"] = f"restic check, {subset} of the data read"


def snapshots_for_status(backup, run) -> list[dict]:
    """This backup's snapshots, oldest first, asked within the probe timeout (`doit status`)."""
    restic = Restic(backup, backup.restic.password, run.state_dir, run.stall_timeout,
                    time.monotonic() + run.timeout)
    try:
        return sorted(restic.snapshots([f"backup:{backup.name}"]), key=lambda snapshot: snapshot["time"])
    except ResticError as error:
        raise OSError(str(error)) from None


def latest(job: Job, restic: Restic) -> str:
    """`snapshot=` when given, else the newest snapshot of this backup."""
    if job.run.day:
        raise Stop("ERROR", f"{job.backup.name} keeps restic snapshots: name one with snapshot=ID (`restic "
                            "snapshots` lists them), not date=")
    if job.run.snapshot:
        return job.run.snapshot
    found = sorted(restic.snapshots(tags(job)), key=lambda snapshot: snapshot["time"])
    if not found:
        raise Stop("ERROR", f"no snapshot of {job.backup.name} in {where(job)}")
    return found[-1]["short_id"]


def verify(job: Job) -> None:
    """Read every byte of the repository back and check it (`restic check --read-data`)."""
    try:
        tool(job).check("all")
    except ResticError as error:
        raise Stop("ERROR", f"restic check --read-data of {where(job)}: {error}") from None
    job.result.destination = where(job)
    job.result.reason = f"every pack of the restic repository at {where(job)} read and checked"
    job.result.alert("INFO", job.result.reason)


def restore(job: Job, target: Path) -> None:
    """Restore `snapshot=` (default: the newest) into `target`, each file checked against the snapshot."""
    restic = tool(job)
    snapshot = latest(job, restic)
    if job.run.dry_run:
        job.result.reason = f"dry run: would restore snapshot {snapshot} of {where(job)} into {target}"
    else:
        restic.restore(snapshot, target)
        job.result.reason = f"restored snapshot {snapshot} of {where(job)} into {target}, every file verified"
    job.result.destination = str(target)
    job.result.alert("INFO", job.result.reason)


def drill(job: Job, rng: random.Random | None = None) -> str:
    """Restore a random sample of the newest snapshot's files into a temporary folder, each checked against the
    snapshot's own content hashes (`restore --verify`) and its size."""
    restic = tool(job)
    snapshot = latest(job, restic)
    files = restic.files(snapshot)
    chosen = integrity.sample(files, job.backup.drill_files, int(job.backup.drill_max_mb * 1024 * 1024),
                              rng or random.Random())
    sizes = dict(files)
    with tempfile.TemporaryDirectory(prefix="backup-drill-") as scratch:
        restic.restore(snapshot, Path(scratch), includes=chosen)
        wrong = [path for path in chosen if not (Path(scratch) / path.lstrip("/")).is_file()
                 or (Path(scratch) / path.lstrip("/")).stat().st_size != sizes[path]]
    if wrong:
        raise Stop("ERROR", f"restore drill of snapshot {snapshot}: {len(wrong)} of {len(chosen)} files did not "
                            f"come back whole: {', '.join(wrong[:20])}")
    size = sum(sizes[path] for path in chosen)
    checked = (f"restore drill: {len(chosen)} files ({format_bytes(size)}) of snapshot {snapshot} restored and "
               "verified against the snapshot")
    job.result.metrics["drill"] = {"folder": f"snapshot {snapshot}", "files": len(chosen), "bytes": size}
    job.result.alert("INFO", checked)
    return checked
