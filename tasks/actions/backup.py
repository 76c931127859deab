"""One backup, start to finish, as a sequence of steps on one Job: its checks passed, select, size, copy (hashing
meanwhile), confirm, verify, seal, prune; and a due restore drill.

A step that cannot go on raises Stop; `tasks.job.perform` adds what that means for the data, from
`job.consequence`, which the steps keep true as they go. The order is the safety argument, and
`tasks.pruning.may_prune` states it: nothing is deleted unless today's copy of every selected file was confirmed at
the destination, compared with the source and sealed with its SHA256SUMS in this very run.
"""

import contextlib
import datetime
from concurrent.futures import ThreadPoolExecutor

from tasks import integrity, progress, results, retention, sealing, selection, watchdog
from tasks import rclone as rc
from tasks.actions import checks, folders
from tasks.job import Job, Stop
from tasks.kinds import Kind, task_name
from tasks.pruning import TodaysCopy, prune
from tasks.summary import format_bytes

NOTHING_DONE = "Nothing copied, nothing pruned."
OLD_COPIES_KEPT = "Old copies are kept; today's folder stays incomplete (no SHA256SUMS)."
SEALED = "Today's copy is complete and sealed."

CHECKS = tuple(kind.name for kind in checks.KINDS)


def back_up(job: Job) -> None:
    """The backup kind's work. A due restore drill follows even when the copy failed: it proves the newest complete
    folder, which matters most on such a day."""
    job.consequence = NOTHING_DONE
    job.result.destination = rc.redact(todays_folder(job))
    require_checks(job)
    try:
        copy_and_prune(job)
    finally:
        if not job.run.dry_run and folders.drill_due(job):
            folders.scheduled_drill(job)


def todays_folder(job: Job) -> str:
    return rc.join(job.backup.rclone_path, retention.folder_name(job.backup.name, job.run.today))


def require_checks(job: Job) -> None:
    """Skip the backup unless every check of this run passed. When the source itself passed its check, the skipped
    backup still says what it would have copied (the walk changes nothing)."""
    found = {check: results.read(job.run.results_dir, task_name(check, job.backup.name), job.run.run_id)
             for check in CHECKS}
    for check, result in found.items():
        task = task_name(check, job.backup.name)
        reason = f"{task} did not report in this run" if result is None else (
            None if result.succeeded else f"skipped because {task} failed: {result.reason}")
        if reason:
            if found[checks.SOURCE_CHECK] and found[checks.SOURCE_CHECK].succeeded:
                _would_have_copied(job)
            raise Stop("INFO", reason, status="skipped")


def _would_have_copied(job: Job) -> None:
    """Walk the source for the skipped backup's summary; what the walk itself finds wrong is said on the day the
    backup runs."""
    with contextlib.suppress(Stop):
        select(job)


def copy_and_prune(job: Job) -> None:
    """The steps, in the order that makes pruning safe; each raises Stop when it cannot go on."""
    chosen = select(job)
    if job.run.dry_run:
        job.result.alert("INFO", f"dry run: would copy {chosen.files} files ({format_bytes(chosen.bytes)}) "
                                 f"to {job.result.destination}")
        prune(job, TodaysCopy())
        return
    copy = TodaysCopy()
    earlier_sums = sealing.unseal(job, todays_folder(job))
    job.consequence = OLD_COPIES_KEPT
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash the source while rclone uploads it: it costs no time
        hashing = pool.submit(_hash, job)
        copy_files(job, chosen)
        hashed = hashing.result()
    copy.confirmed = True
    if chosen.problems:
        raise Stop("ERROR", f"{chosen.problems} entries in {job.backup.source_dir} could not be copied: "
                            + "; ".join(chosen.problem_examples), problems=chosen.problems)
    require_all_hashed(job, hashed)
    copy.verified = sealing.verify(job, todays_folder(job))
    copy.sealed = sealing.seal(job, todays_folder(job), earlier_sums)
    job.consequence = SEALED
    prune(job, copy)


def select(job: Job) -> selection.Selection:
    """Walk the source in a watched child; the selection when there is something within the size cap to copy."""
    backup, result = job.backup, job.result
    newer_than = job.run.now.timestamp() - backup.days * 86400 if backup.days else None
    payload = {"source": str(backup.source_dir), "newer_than": newer_than, "exclude": list(backup.exclude),
               "list_file": str(job.state_file("files"))}
    try:
        with progress.of(job).showing("listing") as show:
            chosen = selection.Selection(**watchdog.run_child("select", payload, job.run.stall_timeout,
                                                              job.run.deadline,
                                                              on_count=lambda files: show(progress.listing(files))))
    except watchdog.Stalled as error:
        raise Stop("CRITICAL", _why_stopped(error, f"source folder {backup.source_dir}", "read")) from None
    result.files, result.bytes = chosen.files, chosen.bytes
    result.newest_file = _date(chosen.newest_selected)
    result.metrics.update(excluded=chosen.excluded, symlinks_skipped=chosen.symlinks)
    if chosen.symlinks:
        result.alert("INFO", f"{chosen.symlinks} symbolic links in {backup.source_dir} were not followed")
    if chosen.files == 0 and chosen.problems:
        raise Stop("ERROR", f"no file of {backup.source_dir} could be read: " + "; ".join(chosen.problem_examples))
    if chosen.files == 0 and backup.days:
        newest = _date(chosen.newest_seen) or "never (no files at all)"
        raise Stop("WARNING", f"nothing newer than {backup.days} days in {backup.source_dir}; newest file is from "
                              f"{newest} (has the primary backup stopped?)")
    if chosen.files == 0:
        raise Stop("WARNING", f"no files in {backup.source_dir} (only folders or excluded files)")
    if chosen.bytes > backup.max_bytes:
        raise Stop("ERROR", f"{chosen.files} files totalling {format_bytes(chosen.bytes)} exceed max_size_mb "
                            f"{backup.max_size_mb}", bytes=chosen.bytes, max_bytes=backup.max_bytes)
    if backup.max_files and chosen.files > backup.max_files:
        raise Stop("ERROR", f"{chosen.files} files selected, more than max_files {backup.max_files}",
                   files=chosen.files, max_files=backup.max_files)
    return chosen


def _why_stopped(error: watchdog.Stalled, source: str, doing: str) -> str:
    if isinstance(error, watchdog.DeadlineReached):
        return f"{source} was still being {doing} when {error}"
    return f"{source} stopped answering while it was {doing} ({error}): hung network mount?"


def _date(timestamp: float | None) -> str | None:
    return datetime.datetime.fromtimestamp(timestamp).date().isoformat() if timestamp is not None else None


def copy_files(job: Job, chosen) -> None:
    """Copy exactly the frozen list; confirm rclone accounted for every listed file (copied or identical)."""
    destination = job.result.destination
    job.log.info("copying %d files (%s) from %s to %s", chosen.files, format_bytes(chosen.bytes),
                 job.backup.source_dir, destination)
    try:
        with progress.of(job).showing("copying") as show:
            outcome = job.rclone.copy(job.backup.source_dir, todays_folder(job), job.state_file("files"), job.log,
                                      max_bytes=chosen.bytes,
                                      progress=lambda stats: show(progress.transferring("copying", stats)))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"copy to {destination} could not start: {error}") from None
    job.result.metrics.update(copied=outcome.copied, identical=outcome.identical, transferred_bytes=outcome.bytes)
    if outcome.returncode != 0 or outcome.errors:
        detail = "; ".join(outcome.messages) or "no error text"
        cause, needs_action = rc.known_cause(detail)
        raise Stop("CRITICAL" if needs_action else "ERROR",
                   f"copy to {destination} failed" + (f": {cause}" if cause else "")
                   + f" (rclone exit {outcome.returncode}, {outcome.errors} errors): {detail}",
                   rclone_exit=outcome.returncode, errors=outcome.errors)
    if outcome.accounted != chosen.files:
        raise Stop("ERROR", f"rclone accounted for {outcome.accounted} of the {chosen.files} selected files "
                            f"(copied {outcome.copied}, unchanged {outcome.identical}){_not_there(job)}; files "
                            "changed or vanished during the copy?")
    job.log.info("copied %d, unchanged %d, %s sent", outcome.copied, outcome.identical, format_bytes(outcome.bytes))


def _not_there(job: Job) -> str:
    """`; not at the destination: a, b`: the listed files a comparison finds missing, to name what rclone passed
    over; empty when the comparison cannot tell."""
    try:
        outcome = job.rclone.check(job.backup.source_dir, todays_folder(job), job.state_file("files"), False,
                                   job.state_file("check"))
    except rc.RcloneError:
        return ""
    more = ", …" if outcome.missing_count > len(outcome.missing[:20]) else ""
    return f"; not at the destination: {', '.join(outcome.missing[:20])}{more}" if outcome.missing else ""


def _hash(job: Job) -> dict:
    """sha256 of every listed source file into the sums file, in a watched child: {"hashed", "problems"}, or
    {"stopped": why} when the source stopped answering or the run reached its time limit."""
    payload = {"source": str(job.backup.source_dir), "list_file": str(job.state_file("files")),
               "sums_file": str(job.state_file(integrity.SUMS_NAME))}
    def show_count(files: int, done: int) -> None:
        show(progress.hashing(files, done, job.result.files, job.result.bytes))

    try:
        with progress.of(job).showing("hashing") as show:
            return watchdog.run_child("hash", payload, job.run.stall_timeout, job.run.deadline, on_count=show_count)
    except watchdog.Stalled as error:
        return {"stopped": _why_stopped(error, f"source folder {job.backup.source_dir}", "hashed")}


def require_all_hashed(job: Job, hashed: dict) -> None:
    if "stopped" in hashed:
        raise Stop("CRITICAL", hashed["stopped"])
    job.result.metrics["sealed_files"] = hashed["hashed"]
    if hashed["problems"]:
        raise Stop("ERROR", f"{len(hashed['problems'])} files changed or vanished during the copy, so their copy "
                            "cannot be vouched for: " + "; ".join(hashed["problems"][:20]))


def describe(backup) -> str:
    """Its line in `doit list`: source -> destination, filter, retention."""
    age = f"files newer than {backup.days} days" if backup.days else "all files"
    return (f"{backup.source_dir} -> {rc.redact(backup.rclone_path)}/{backup.name}_YYYY-MM-DD; {age}, "
            f"max {backup.max_size_mb} MiB, keep {backup.retention.last}")


KINDS = (
    Kind("backup", "one backup with its checks", back_up, in_full_run=True, after=CHECKS, listed_each=True,
         describe=describe),
)
