"""One backup, start to finish: read its checks, select, size, copy, then prune old dated folders.

The order is the safety argument: nothing is deleted unless today's copy of every selected file is confirmed
at the destination in this very run.
"""

import dataclasses
import datetime
import logging
from pathlib import Path

from tasks import rclone as rc
from tasks import results, retention, selection
from tasks.config import Backup
from tasks.summary import format_bytes

CHECKS = ("check_rclone", "check_mounts", "check_space")


@dataclasses.dataclass(frozen=True)
class Run:
    """What every task of one doit run shares."""

    run_id: str
    results_dir: Path
    lists_dir: Path
    timeout: float
    dry_run: bool
    now: datetime.datetime


def run_backup(backup: Backup, run: Run, result: results.Result) -> None:
    log = logging.getLogger(f"backup.{backup.name}")
    result.dry_run = run.dry_run
    if not _checks_passed(backup, run, result):
        return
    today = run.now.date()
    destination = rc.join(backup.rclone_path, retention.folder_name(backup.name, today))
    result.destination = rc.redact(destination)

    chosen = _select(backup, run, result)
    if chosen is None:
        return
    tool = rc.Rclone(backup.rclone, run.timeout)
    if run.dry_run:
        result.alert("INFO", f"dry run: would copy {chosen.files} files ({format_bytes(chosen.bytes)}) "
                             f"to {result.destination}")
    elif not _copy(backup, tool, destination, chosen, run, result, log):
        return
    if chosen.problems:
        result.alert("ERROR", f"{chosen.problems} entries in {backup.source_dir} could not be copied; old "
                              "copies are kept. " + "; ".join(chosen.problem_examples),
                     problems=chosen.problems)
        return
    _prune(backup, tool, today, run.dry_run, result, log)


def _checks_passed(backup: Backup, run: Run, result: results.Result) -> bool:
    for check in CHECKS:
        task = f"{check}:{backup.name}"
        found = results.read(run.results_dir, task, run.run_id)
        if found is None:
            result.escalate("skipped", f"{task} did not report in this run")
            return False
        if not found.succeeded:
            result.escalate("skipped", f"skipped because {task} failed: {found.reason}")
            return False
    return True


def _select(backup: Backup, run: Run, result: results.Result) -> selection.Selection | None:
    """Walk the source; return the selection when there is something within the size cap to copy."""
    newer_than = run.now.timestamp() - backup.days * 86400 if backup.days else None
    run.lists_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    chosen = selection.select(backup.source_dir, newer_than, backup.exclude,
                              run.lists_dir / f"{backup.name}.files")
    result.files, result.bytes = chosen.files, chosen.bytes
    result.newest_file = _date(chosen.newest_selected)
    result.metrics.update(excluded=chosen.excluded, symlinks_skipped=chosen.symlinks)
    if chosen.files == 0:
        if chosen.problems:
            result.alert("ERROR", f"no file of {backup.source_dir} could be read: "
                                  + "; ".join(chosen.problem_examples))
        elif backup.days:
            newest = _date(chosen.newest_seen) or "never (no files at all)"
            result.alert("WARNING", f"nothing newer than {backup.days} days in {backup.source_dir}; newest file "
                                    f"is from {newest} (has the primary backup stopped?). Nothing copied, "
                                    "nothing pruned")
        else:
            result.alert("WARNING", f"no files in {backup.source_dir} (only folders or excluded files); "
                                    "nothing copied, nothing pruned")
        return None
    if chosen.bytes > backup.max_bytes:
        result.alert("ERROR", f"{chosen.files} files totalling {format_bytes(chosen.bytes)} exceed max_size_mb "
                              f"{backup.max_size_mb}: nothing copied, nothing pruned",
                     bytes=chosen.bytes, max_bytes=backup.max_bytes)
        return None
    return chosen


def _copy(backup, tool, destination, chosen, run, result, log) -> bool:
    log.info("copying %d files (%s) from %s to %s", chosen.files, format_bytes(chosen.bytes),
             backup.source_dir, result.destination)
    try:
        outcome = tool.copy(backup.source_dir, destination, run.lists_dir / f"{backup.name}.files", log)
    except rc.RcloneError as error:
        result.alert("ERROR", f"copy to {result.destination} could not start: {error}")
        return False
    result.metrics.update(copied=outcome.copied, identical=outcome.identical, transferred_bytes=outcome.bytes)
    if outcome.returncode != 0 or outcome.errors:
        detail = "; ".join(outcome.messages) or "no error text"
        result.alert("ERROR", f"copy to {result.destination} failed (rclone exit {outcome.returncode}, "
                              f"{outcome.errors} errors): {detail}. Old copies are kept",
                     rclone_exit=outcome.returncode, errors=outcome.errors)
        return False
    if outcome.accounted != chosen.files:
        result.alert("ERROR", f"rclone accounted for {outcome.accounted} of the {chosen.files} selected files "
                              f"(copied {outcome.copied}, unchanged {outcome.identical}); files changed or "
                              "vanished during the copy? Old copies are kept")
        return False
    log.info("copied %d, unchanged %d, %s sent", outcome.copied, outcome.identical, format_bytes(outcome.bytes))
    return True


def _prune(backup: Backup, tool: rc.Rclone, today: datetime.date, dry_run: bool, result, log) -> None:
    """Apply retention to `<name>_YYYY-MM-DD` folders directly under rclone_path; never today's."""
    todays = retention.folder_name(backup.name, today)
    try:
        names = tool.list_folders(backup.rclone_path)
    except rc.RcloneError as error:
        result.alert("WARNING", f"old copies not pruned: {error}")
        return
    if dry_run:
        names.append(todays)
    elif todays not in names:
        result.alert("WARNING", f"today's folder {todays} is not listed at {rc.redact(backup.rclone_path)} "
                                "after the copy; nothing pruned")
        return
    decision = retention.plan(backup.name, names, today, backup.retention)
    if decision.ignored:
        result.alert("WARNING", "left alone, dated in the future or not a real date: " + ", ".join(decision.ignored))
    for folder in decision.delete:
        if not dry_run:
            try:
                tool.purge(rc.join(backup.rclone_path, folder))
            except rc.RcloneError as error:
                result.alert("WARNING", f"could not prune {folder}: {error}")
                return
            log.info("pruned %s", folder)
        result.pruned.append(folder)
    if dry_run and decision.delete:
        result.alert("INFO", "dry run: would prune " + ", ".join(decision.delete))


def _date(timestamp: float | None) -> str | None:
    return datetime.datetime.fromtimestamp(timestamp).date().isoformat() if timestamp is not None else None
