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

from tasks import copying, integrity, progress, results, retention, reuse, sealed_folder, sealing, selection, watchdog
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
    names, complete = _dated_folders(job)
    todays_sums = sealing.unseal(job, todays_folder(job), present=_todays_name(job) in names)
    job.consequence = OLD_COPIES_KEPT
    earlier = reuse.reference(job, names, complete)
    batches, hashed = _copy_with_reference(job, chosen, earlier, todays_sums) if earlier else _copy_and_hash(job)
    copy.confirmed = True
    if chosen.problems:
        raise Stop("ERROR", f"{chosen.problems} entries in {job.backup.source_dir} could not be copied: "
                            + "; ".join(chosen.problem_examples), problems=chosen.problems)
    require_all_hashed(job, hashed)
    copy.verified = _verify(job, batches, earlier)
    copy.sealed = sealing.seal(job, todays_folder(job), todays_sums)
    job.consequence = SEALED
    prune(job, copy)


def _todays_name(job: Job) -> str:
    return retention.folder_name(job.backup.name, job.run.today)


def _dated_folders(job: Job) -> tuple[list[str], set[str]]:
    """The folders at the destination and which are sealed, in one listing."""
    where = rc.redact(job.backup.rclone_path)
    try:
        names, sealed, files = job.rclone.folders(job.backup.rclone_path, integrity.SUMS_NAME)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot list {where}: {error}") from None
    if _todays_name(job) in files:
        raise Stop("ERROR", f"{_todays_name(job)} at {where} is a file, where today's folder goes: move it away")
    return names, sealed


def _copy_and_hash(job: Job) -> tuple[list[reuse.Batch], dict]:
    """Every file uploaded in one copy, hashed meanwhile: reading the source twice at once costs no time."""
    batch = reuse.Batch(list_file=job.state_file("files"), bytes=job.result.bytes,
                        no_check_dest=not _features(job).compares_content)
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(_hash, job)
        copying.copy_batches(job, todays_folder(job), [batch], job.result.files)
        return [batch], hashing.result()


def _copy_with_reference(job: Job, chosen, earlier: reuse.Reference, todays_sums: str
                         ) -> tuple[list[reuse.Batch], dict]:
    """Hash first: the sums decide which files are unchanged since `earlier` and copied on the server."""
    hashed = _hash(job)
    require_all_hashed(job, hashed)
    source_sums = integrity.parse(job.state_file(integrity.SUMS_NAME).read_text(encoding="utf-8",
                                                                                  errors="surrogateescape"))
    batches = reuse.batches(reuse.listed_with_sizes(job.state_file("files")), source_sums, earlier,
                            integrity.parse(todays_sums), _features(job).compares_content)
    copying.copy_batches(job, todays_folder(job), batches, chosen.files)
    return batches, hashed


def _features(job: Job) -> rc.Features:
    try:
        return job.rclone.features(job.backup.rclone_path)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot ask {rc.redact(job.backup.rclone_path)} what it supports: {error}") from None


def _check_hash(job: Job) -> str | None:
    _features(job)  # asked here, where a failure can stop the backup; cached for the run
    return sealing.check_hash(job)


def _verify(job: Job, batches: list[reuse.Batch], earlier: reuse.Reference | None) -> bool:
    """Compare today's folder with the source. Files copied on the server that do not match (the sealed folder
    they came from rotted, or was changed) are uploaded once more and compared again: an earlier folder's damage
    never spreads to today's."""
    try:
        return sealing.verify(job, todays_folder(job))
    except sealing.Mismatch as mismatch:
        from_server = {path: size for batch in batches if batch.copy_dest
                       for path, size in zip(batch.paths, batch.sizes, strict=True)}
        if not mismatch.paths or not set(mismatch.paths) <= from_server.keys():
            raise
        bad = reuse.Batch(no_check_dest=True)
        for path in mismatch.paths:
            bad.add(path, from_server[path])
        damaged = earlier.folder  # only files of a server-side batch get here, and those came from `earlier`
        job.result.alert("WARNING", f"{len(bad.paths)} files copied on the server from {damaged} did not match the "
                                    f"source and were uploaded again: {sealed_folder.names(bad.paths)}. {damaged} "
                                    f"is damaged: check it with `doit run verify:{job.backup.name} "
                                    f"date={damaged[-10:]}`")
        copying.upload_again(job, todays_folder(job), bad)
        return sealing.verify(job, todays_folder(job))


def select(job: Job) -> selection.Selection:
    """Walk the source in a watched child; the selection when there is something within the size cap to copy."""
    backup, result = job.backup, job.result
    newer_than = job.run.now.timestamp() - backup.days * 86400 if backup.days else None
    payload = {"source": str(backup.source_dir), "newer_than": newer_than, "exclude": list(backup.exclude),
               "markers": list(backup.exclude_if_present),
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
    if chosen.marked_folders:
        result.metrics.update(marked_folders=len(chosen.marked_folders), marked_files=chosen.marked_files)
        result.alert("INFO", f"{len(chosen.marked_folders)} folders left out (they hold "
                             f"{' or '.join(backup.exclude_if_present)}), {chosen.marked_files} files in them: "
                             + sealed_folder.names(chosen.marked_folders, already_shown=True))
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


def _hash(job: Job) -> dict:
    """sha256 of every listed source file into the sums file, in a watched child: {"hashed", "problems"}, or
    {"stopped": why} when the source stopped answering or the run reached its time limit."""
    payload = {"source": str(job.backup.source_dir), "list_file": str(job.state_file("files")),
               "sums_file": str(job.state_file(integrity.SUMS_NAME))}
    second = _check_hash(job)
    if second not in (None, "sha256"):  # what the verification checks the copy with, from this same read
        payload["second"] = [second, str(sealing.sums_file(job, second))]
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
