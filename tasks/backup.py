"""One backup, start to finish: read its checks, select, size, copy (hashing meanwhile), verify, seal, prune; and
a due restore drill.

The order is the safety argument: nothing is deleted unless today's copy of every selected file was confirmed at
the destination, compared with the source and sealed with its SHA256SUMS in this very run.
"""

import dataclasses
import datetime
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tasks import integrity, retention, selection, watchdog
from tasks import rclone as rc
from tasks import results
from tasks.config import Backup
from tasks.folders import drill, drill_due, record_drill
from tasks.summary import format_bytes

CHECKS = ("check_rclone", "check_mounts", "check_space")


@dataclasses.dataclass(frozen=True)
class Run:
    """What every task of one doit run shares, including the command line's variables."""

    run_id: str
    state_dir: Path
    timeout: float                # bound of every probe
    stall_timeout: float          # a walk, hash or copy with no progress for this long is stopped
    dry_run: bool
    now: datetime.datetime
    day: str | None = None        # date=YYYY-MM-DD for verify and restore
    target: str | None = None     # target=PATH for restore
    overwrite: bool = False       # overwrite=1 for restore

    @property
    def results_dir(self) -> Path:
        return self.state_dir / "results"

    @property
    def lists_dir(self) -> Path:
        return self.state_dir / "lists"


def run_backup(backup: Backup, run: Run, result: results.Result) -> None:
    log = logging.getLogger(f"backup.{backup.name}")
    result.dry_run = run.dry_run
    if not _checks_passed(backup, run, result):
        return
    tool = rc.Rclone(backup.rclone, run.timeout, run.stall_timeout)
    _copy_and_prune(backup, tool, run, result, log)
    if not run.dry_run and drill_due(backup, run.state_dir, run.now.date()):
        drill(backup, tool, result, run.now.date())
        if result.succeeded:
            record_drill(backup, run.state_dir, run.now.date())


def _copy_and_prune(backup: Backup, tool: rc.Rclone, run: Run, result: results.Result, log) -> None:
    today = run.now.date()
    destination = rc.join(backup.rclone_path, retention.folder_name(backup.name, today))
    result.destination = rc.redact(destination)
    chosen = _select(backup, run, result)
    if chosen is None:
        return
    if run.dry_run:
        result.alert("INFO", f"dry run: would copy {chosen.files} files ({format_bytes(chosen.bytes)}) "
                             f"to {result.destination}")
        _prune(backup, tool, today, True, result, log)
        return
    list_file = run.lists_dir / f"{backup.name}.files"
    try:  # an earlier run today sealed this folder: keep its sums, and unseal it while it changes
        earlier_sums = tool.read_text(rc.join(destination, integrity.SUMS_NAME)) or ""
        if earlier_sums:
            tool.delete_file(rc.join(destination, integrity.SUMS_NAME))
        tool.delete_partials(destination)  # left by an upload interrupted earlier today
    except rc.RcloneError as error:
        result.alert("ERROR", f"cannot prepare {result.destination} for the copy: {error}. Old copies are kept")
        return
    sums_file = run.lists_dir / f"{backup.name}.{integrity.SUMS_NAME}"
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash the source while rclone uploads it: it costs no time
        hashing = pool.submit(_hash, backup, list_file, sums_file, run)
        copied = _copy(backup, tool, destination, chosen, list_file, result, log)
        hashed = hashing.result()
    if not copied:
        return
    if chosen.problems:
        result.alert("ERROR", f"{chosen.problems} entries in {backup.source_dir} could not be copied; old "
                              "copies are kept. " + "; ".join(chosen.problem_examples),
                     problems=chosen.problems)
        return
    if not (_hashed_all(hashed, backup, result) and _verify(backup, tool, destination, list_file, run, result)
            and _seal(tool, destination, sums_file, earlier_sums, result)):
        return
    _prune(backup, tool, today, False, result, log)


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
    payload = {"source": str(backup.source_dir), "newer_than": newer_than, "exclude": list(backup.exclude),
               "list_file": str(run.lists_dir / f"{backup.name}.files")}
    try:
        chosen = selection.Selection(**watchdog.run_child("select", payload, run.stall_timeout))
    except watchdog.Stalled as error:
        result.alert("CRITICAL", f"source folder {backup.source_dir} stopped answering while it was read ({error}): "
                                 "hung network mount? Nothing copied, nothing pruned")
        return None
    result.files, result.bytes = chosen.files, chosen.bytes
    result.newest_file = _date(chosen.newest_selected)
    result.metrics.update(excluded=chosen.excluded, symlinks_skipped=chosen.symlinks)
    if chosen.symlinks:
        result.alert("INFO", f"{chosen.symlinks} symbolic links in {backup.source_dir} were not followed")
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


def _copy(backup, tool, destination, chosen, list_file, result, log) -> bool:
    log.info("copying %d files (%s) from %s to %s", chosen.files, format_bytes(chosen.bytes),
             backup.source_dir, result.destination)
    try:
        outcome = tool.copy(backup.source_dir, destination, list_file, log)
    except rc.RcloneError as error:
        result.alert("ERROR", f"copy to {result.destination} could not start: {error}")
        return False
    result.metrics.update(copied=outcome.copied, identical=outcome.identical, transferred_bytes=outcome.bytes)
    if outcome.returncode != 0 or outcome.errors:
        detail = "; ".join(outcome.messages) or "no error text"
        cause, needs_action = rc.known_cause(detail)
        result.alert("CRITICAL" if needs_action else "ERROR",
                     f"copy to {result.destination} failed" + (f": {cause}" if cause else "")
                     + f" (rclone exit {outcome.returncode}, {outcome.errors} errors): {detail}. Old copies are kept",
                     rclone_exit=outcome.returncode, errors=outcome.errors)
        return False
    if outcome.accounted != chosen.files:
        result.alert("ERROR", f"rclone accounted for {outcome.accounted} of the {chosen.files} selected files "
                              f"(copied {outcome.copied}, unchanged {outcome.identical}); files changed or "
                              "vanished during the copy? Old copies are kept")
        return False
    log.info("copied %d, unchanged %d, %s sent", outcome.copied, outcome.identical, format_bytes(outcome.bytes))
    return True


def _hash(backup: Backup, list_file: Path, sums_file: Path, run: Run) -> dict:
    """sha256 of every listed source file into `sums_file`, in a watched child: {"hashed", "problems"}, or
    {"stalled": why} when the source stopped answering."""
    payload = {"source": str(backup.source_dir), "list_file": str(list_file), "sums_file": str(sums_file)}
    try:
        return watchdog.run_child("hash", payload, run.stall_timeout)
    except watchdog.Stalled as error:
        return {"stalled": str(error)}


def _hashed_all(hashed: dict, backup: Backup, result) -> bool:
    if "stalled" in hashed:
        result.alert("CRITICAL", f"source folder {backup.source_dir} stopped answering while it was hashed "
                                 f"({hashed['stalled']}): hung network mount? Old copies are kept")
        return False
    result.metrics["sealed_files"] = hashed["hashed"]
    if hashed["problems"]:
        result.alert("ERROR", f"{len(hashed['problems'])} files changed or vanished during the copy, so their copy "
                              "cannot be vouched for; old copies are kept: " + "; ".join(hashed["problems"][:20]))
        return False
    return True


def _verify(backup, tool, destination, list_file, run, result) -> bool:
    """Compare the copy with the source, file by file (unless `verify: off`)."""
    if backup.verify == "off":
        result.metrics["verified"] = "off"
        return True
    try:
        outcome = tool.check(backup.source_dir, destination, list_file, backup.verify == "download",
                             run.lists_dir / f"{backup.name}.check")
    except rc.RcloneError as error:
        result.alert("ERROR", f"verification of {result.destination} could not run: {error}")
        return False
    if not outcome.clean:
        result.alert("ERROR", f"verification of {result.destination} failed: " + outcome.describe()
                     + ". Old copies are kept", differ=len(outcome.differ), missing=len(outcome.missing))
        return False
    result.metrics["verified"] = "download" if backup.verify == "download" else (
        "hash" if outcome.hash_checked else "size")
    if not outcome.hash_checked:
        result.alert("WARNING", "content not hash-checked: the remote offers no common hash with the source, so "
                                "only sizes were compared (`verify: download` reads the copy back)")
    return True


def _seal(tool, destination, sums_file: Path, earlier_sums: str, result) -> bool:
    """Write SHA256SUMS last: from now on the folder counts as complete. An earlier run today's sums are kept
    for the files this run did not copy again."""
    if earlier_sums:
        new = integrity.parse(sums_file.read_text(encoding="utf-8", errors="surrogateescape"))
        merged = {**integrity.parse(earlier_sums), **new}
        sums_file.write_text(integrity.render(merged), encoding="utf-8", errors="surrogateescape")
        result.metrics["sealed_files"] = len(merged)
    try:
        tool.upload(sums_file, rc.join(destination, integrity.SUMS_NAME))
    except rc.RcloneError as error:
        result.alert("ERROR", f"cannot write {integrity.SUMS_NAME} into {result.destination}: {error}")
        return False
    return True


def _prune(backup: Backup, tool: rc.Rclone, today: datetime.date, dry_run: bool, result, log) -> None:
    """Apply retention to `<name>_YYYY-MM-DD` folders directly under rclone_path; never today's."""
    todays = retention.folder_name(backup.name, today)
    try:
        names = tool.list_folders(backup.rclone_path)
        complete = tool.folders_holding(backup.rclone_path, integrity.SUMS_NAME)
    except rc.RcloneError as error:
        result.alert("WARNING", f"old copies not pruned: {error}")
        return
    if dry_run:
        names.append(todays)
        complete.add(todays)
    elif todays not in complete:
        result.alert("WARNING", f"today's folder {todays} is not listed with its {integrity.SUMS_NAME} at "
                                f"{rc.redact(backup.rclone_path)} after the copy; nothing pruned")
        return
    decision = retention.plan(backup.name, names, today, backup.retention, complete)
    if decision.incomplete:
        result.alert("INFO", "incomplete folders kept for now (no SHA256SUMS): " + ", ".join(decision.incomplete))
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
