"""Pruning old dated folders, and the safety rule that guards it.

`may_prune` is the rule: old copies go only after today's copy was confirmed complete at the destination, compared
with the source and sealed with its SHA256SUMS in this very run. `prune` asks it before anything else, then
applies retention (tasks.retention, a pure function) to the folders the destination lists.
"""

import dataclasses

from tasks import integrity, retention
from tasks import rclone as rc
from tasks.job import Job, Stop


@dataclasses.dataclass
class TodaysCopy:
    """What this run proved about today's dated folder."""

    confirmed: bool = False   # rclone copied or found identical every listed file
    verified: bool = False    # compared with the source as `verify` asks
    sealed: bool = False      # SHA256SUMS written into it


def may_prune(copy: TodaysCopy, dry_run: bool) -> bool:
    """The safety rule: old copies may go only after today's copy was confirmed, verified and sealed in this run.
    A dry run deletes nothing, so it may show what would go."""
    return dry_run or (copy.confirmed and copy.verified and copy.sealed)


def prune(job: Job, copy: TodaysCopy) -> None:
    """Apply retention to `<name>_YYYY-MM-DD` folders directly under rclone_path; never today's."""
    if not may_prune(copy, job.run.dry_run):
        raise Stop("ERROR", f"refusing to prune: today's copy is not proven complete ({copy})")
    backup, dry_run = job.backup, job.run.dry_run
    todays = retention.folder_name(backup.name, job.run.today)
    try:
        names, complete, _ = job.rclone.folders(backup.rclone_path, integrity.SUMS_NAME)
    except rc.RcloneError as error:
        raise Stop("WARNING", f"old copies not pruned: {error}") from None
    if dry_run:
        names.append(todays)
        complete.add(todays)
    elif todays not in complete:
        raise Stop("WARNING", f"today's folder {todays} is not listed with its {integrity.SUMS_NAME} at "
                              f"{rc.redact(backup.rclone_path)} after the copy; nothing pruned")
    decision = retention.plan(backup.name, names, job.run.today, backup.retention, complete)
    if decision.incomplete:
        job.result.alert("INFO", "incomplete folders kept for now (no SHA256SUMS): " + ", ".join(decision.incomplete))
    if decision.ignored:
        job.result.alert("WARNING", "left alone, dated in the future or not a real date: "
                         + ", ".join(decision.ignored))
    if dry_run:
        job.result.pruned.extend(decision.delete)
        if decision.delete:
            job.result.alert("INFO", "dry run: would prune " + ", ".join(decision.delete))
        return
    for folder in decision.delete:
        try:
            job.rclone.purge(rc.join(backup.rclone_path, folder))
        except rc.RcloneError as error:
            raise Stop("WARNING", f"could not prune {folder}: {error}") from None
        job.log.info("pruned %s", folder)
        job.result.pruned.append(folder)
