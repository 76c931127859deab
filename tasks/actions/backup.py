"""One backup, start to finish: its checks passed, select and size the source once, then at each destination
(tasks.destinations) the steps of its mode: a dated folder copied, verified, sealed and pruned (tasks.dated_copy),
or files archived once (tasks.archive); and a due restore drill.

A step that cannot go on raises Stop; `tasks.job.perform` adds what that means for the data, from
`job.consequence`, which the steps keep true as they go. The order is the safety argument, and
`tasks.pruning.may_prune` states it: nothing is deleted unless today's copy of every selected file was confirmed at
the destination, compared with the source and sealed with its SHA256SUMS in this very run.
"""

import contextlib
import datetime

from tasks import (
    archive,
    database_source,
    dated_copy,
    destinations,
    progress,
    restic_engine,
    results,
    sealed_folder,
    selection,
    watchdog,
)
from tasks import rclone as rc
from tasks.actions import checks, folders
from tasks.job import Job, Stop
from tasks.kinds import Kind, task_name
from tasks.source_sums import SourceSums
from tasks.summary import format_bytes

NOTHING_DONE = "Nothing copied, nothing pruned."

CHECKS = tuple(kind.name for kind in checks.KINDS)

#: What each `mode` does at one destination: `dry_run(job, chosen)`, `prepare(job)` before the source is hashed,
#: `copy(prepared, chosen, sums)`.
MODES = {"dated": dated_copy, "archive": archive}


def back_up(job: Job) -> None:
    """The backup kind's work. A due restore drill follows even when the copy failed: it proves the newest complete
    folder, which matters most on such a day."""
    job.consequence = NOTHING_DONE
    _show_destination(job)
    unchecked = require_checks(job)
    if job.backup.database and job.run.dry_run:
        database_source.dry_run(job)
        return
    try:
        if job.backup.database:  # dumped into the staging folder, then taken like a folder
            database_source.dump_all(job)
        (_snapshots if job.backup.engine == "restic" else _copied)(job, unchecked)
    finally:
        if job.backup.database:
            database_source.clear(job)


def _copied(job: Job, unchecked: dict[int, str]) -> None:
    chosen = select(job)
    _at_each_destination(job, unchecked, lambda fanout: _copy_everywhere(job, fanout, chosen))


def _snapshots(job: Job, unchecked: dict[int, str]) -> None:
    """`engine: restic`: restic walks the source itself, at each destination's repository."""
    _at_each_destination(job, unchecked, lambda fanout: fanout.run(
        restic_engine.dry_run if job.run.dry_run else restic_engine.back_up))


def _at_each_destination(job: Job, unchecked: dict[int, str], work) -> None:
    """`work(fanout)` on the destinations whose checks passed, then the drills that are due."""
    fanout = destinations.Fanout(job, job.run.parallel_destinations)
    try:
        fanout.run(lambda at: _skip_unchecked(at, unchecked))
        work(fanout)
    finally:
        if not job.run.dry_run:
            fanout.run(_drill_if_due, also_failed=True)
        fanout.merge()


def _copy_everywhere(job: Job, fanout: destinations.Fanout, chosen: selection.Selection) -> None:
    """Each destination prepared, then the source hashed once for all of them while the copies run."""
    mode = MODES[job.backup.mode]
    if job.run.dry_run:
        fanout.run(lambda at: mode.dry_run(at, chosen))
        return
    prepared = {}
    fanout.run(lambda at: prepared.__setitem__(at.backup.index, mode.prepare(at)))
    with SourceSums(job, [prepared[at.backup.index].check_kind for at in fanout.going()]) as sums:
        fanout.run(lambda at: mode.copy(prepared[at.backup.index], chosen, sums))
    if job.backup.delete_source_after_archive:
        archive.delete_sources(job, [(at, prepared.get(at.backup.index)) for at in fanout.jobs])


def _drill_if_due(job: Job) -> None:
    if folders.drill_due(job):
        folders.scheduled_drill(job)


def require_checks(job: Job) -> dict[int, str]:
    """Skip the backup unless its source passed its check and at least one destination passed its checks; the
    reasons of the destinations that did not, by number. When the source itself passed its check, a skipped
    backup still says what it would have copied (the walk changes nothing)."""
    found = {check: results.read(job.run.results_dir, task_name(check, job.backup.name), job.run.run_id)
             for check in CHECKS}
    unchecked = {}
    for index in range(len(job.backup.destinations)):
        for check, result in found.items():
            task = task_name(check, job.backup.name)
            status, reason = destinations.outcome_at(result, index) if result else ("failed", "")
            if result is None:
                unchecked.setdefault(index, f"{task} did not report in this run")
            elif status in ("failed", "skipped"):
                unchecked.setdefault(index, f"skipped because {task} failed: {reason}")
    if len(unchecked) == len(job.backup.destinations):
        if found[checks.SOURCE_CHECK] and found[checks.SOURCE_CHECK].succeeded:
            _would_have_copied(job)
        raise Stop("INFO", unchecked[0], status="skipped")
    return unchecked


def _show_destination(job: Job) -> None:
    """Where the copy goes, for the summary, also when it never gets there."""
    job.result.destination = (restic_engine.where(job) if job.backup.engine == "restic" else
                              rc.redact(dated_copy.todays_folder(job) if job.backup.mode == "dated"
                                        else job.backup.rclone_path))


def _skip_unchecked(job: Job, unchecked: dict[int, str]) -> None:
    _show_destination(job)
    if job.backup.index in unchecked:
        raise Stop("INFO", unchecked[job.backup.index], status="skipped")


def _would_have_copied(job: Job) -> None:
    """Walk the source for the skipped backup's summary; what the walk itself finds wrong is said on the day the
    backup runs."""
    with contextlib.suppress(Stop):
        select(job)


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
        raise Stop("CRITICAL", watchdog.why_stopped(error, f"source folder {backup.source_dir}", "read")) from None
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


def _date(timestamp: float | None) -> str | None:
    return datetime.datetime.fromtimestamp(timestamp).date().isoformat() if timestamp is not None else None


def describe(backup) -> str:
    """Its line in `doit list`: source -> destinations, filter, retention."""
    age = f"files newer than {backup.days} days" if backup.days else "all files"
    places = [rc.redact(item.rclone_path) for item in backup.destinations]
    kept = "/".join(dict.fromkeys(str(item.retention.last) for item in backup.destinations))
    database = backup.database
    source = (f"databases {', '.join(database.databases) or 'all'} at "
              f"{database.socket or f'{database.host}:{database.port}'}" if database else backup.source_dir)
    if backup.engine == "restic":
        return f"{source} -> restic {' + '.join(places)}; keep last {kept} snapshots"
    if backup.mode == "archive":
        deleted = "; source files deleted once archived" if backup.delete_source_after_archive else ""
        return (f"{source} -> archive at {' + '.join(places)}; {age}, max {backup.max_size_mb} MiB, never "
                f"pruned{deleted}")
    return (f"{source} -> {' + '.join(f'{place}/{backup.name}_YYYY-MM-DD' for place in places)}; {age}, max "
            f"{backup.max_size_mb} MiB, keep {kept}")


KINDS = (
    Kind("backup", "one backup with its checks", back_up, in_full_run=True, after=CHECKS, listed_each=True,
         describe=describe),
)
