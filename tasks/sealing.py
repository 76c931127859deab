"""Today's dated folder and its seal: unsealed while it changes, compared with the source, sealed with SHA256SUMS.

A folder holding SHA256SUMS counts as complete; so the file is removed before a copy changes the folder and
written again only after the copy was verified.
"""

from tasks import integrity
from tasks import rclone as rc
from tasks.job import Job, Stop


def unseal(job: Job, folder: str) -> str:
    """Make `folder` ready for the copy: an earlier run today may have sealed it, so keep its sums (returned) and
    remove its SHA256SUMS while it changes; delete the `.partial` files an interrupted upload left."""
    try:
        earlier_sums = job.rclone.read_text(rc.join(folder, integrity.SUMS_NAME)) or ""
        if earlier_sums:
            job.rclone.delete_file(rc.join(folder, integrity.SUMS_NAME))
        job.rclone.delete_partials(folder)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot prepare {rc.redact(folder)} for the copy: {error}") from None
    return earlier_sums


def verify(job: Job, folder: str) -> bool:
    """Compare the copy with the source, file by file (unless `verify: off`); True when it is as `verify` asks."""
    backup, result = job.backup, job.result
    if backup.verify == "off":
        result.metrics["verified"] = "off"
        return True
    try:
        outcome = job.rclone.check(backup.source_dir, folder, job.state_file("files"), backup.verify == "download",
                                   job.state_file("check"))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"verification of {rc.redact(folder)} could not run: {error}") from None
    if not outcome.clean:
        raise Stop("ERROR", f"verification of {rc.redact(folder)} failed: " + outcome.describe(),
                   differ=len(outcome.differ), missing=len(outcome.missing))
    result.metrics["verified"] = "download" if backup.verify == "download" else (
        "hash" if outcome.hash_checked else "size")
    if not outcome.hash_checked:
        result.alert("WARNING", "content not hash-checked: the remote offers no common hash with the source, so "
                                "only sizes were compared (`verify: download` reads the copy back)")
    return True


def seal(job: Job, folder: str, earlier_sums: str) -> bool:
    """Write SHA256SUMS last: from now on the folder counts as complete. The sums of an earlier run today are kept
    for the files this run did not copy again. True once written."""
    sums_file = job.state_file(integrity.SUMS_NAME)
    if earlier_sums:
        new = integrity.parse(sums_file.read_text(encoding="utf-8", errors="surrogateescape"))
        merged = {**integrity.parse(earlier_sums), **new}
        sums_file.write_text(integrity.render(merged), encoding="utf-8", errors="surrogateescape")
        job.result.metrics["sealed_files"] = len(merged)
    try:
        job.rclone.upload(sums_file, rc.join(folder, integrity.SUMS_NAME))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot write {integrity.SUMS_NAME} into {rc.redact(folder)}: {error}") from None
    return True
