"""Putting the frozen list into today's folder: one `rclone copy` per batch (tasks.reuse), each capped at its
selected bytes, every listed file accounted for, uploaded and server-side bytes told apart.

A remote that claims server-side copy but does not do it (rclone uploads instead, or the copy fails) is marked for
the rest of the run: its later backups upload without asking it again, and the warning is said once.
"""

import dataclasses

from tasks import destinations, progress, reuse
from tasks import rclone as rc
from tasks.job import Job, Stop
from tasks.summary import format_bytes


def copy_batches(job: Job, folder: str, batches: list[reuse.Batch], files: int, keep_existing: bool = False
                 ) -> rc.CopyOutcome:
    """Copy every batch into `folder`; Stop unless rclone copied or found identical each of the `files` listed.
    `keep_existing`: never replace a file there (an archive)."""
    destination = rc.redact(folder)
    job.log.info("copying %d files (%s) from %s to %s", files, format_bytes(sum(b.bytes for b in batches)),
                 job.backup.source_dir, destination)
    outcomes = [_copy_batch(job, folder, batch, number, keep_existing) for number, batch in enumerate(batches)]
    outcome = _combined(outcomes)
    job.result.metrics.update(copied=outcome.copied, identical=outcome.identical, transferred_bytes=outcome.bytes,
                              uploaded_bytes=outcome.uploaded_bytes, server_side_bytes=outcome.server_side_bytes,
                              server_side_files=outcome.server_side_copies)
    if outcome.accounted != files:
        raise Stop("ERROR", f"rclone accounted for {outcome.accounted} of the {files} selected files "
                            f"(copied {outcome.copied}, unchanged {outcome.identical}){_not_there(job, folder)}; "
                            "files changed or vanished during the copy?")
    job.log.info("copied %d, unchanged %d: %s uploaded, %s copied on the server", outcome.copied,
                 outcome.identical, format_bytes(outcome.uploaded_bytes), format_bytes(outcome.server_side_bytes))
    return outcome


def upload_again(job: Job, folder: str, batch: reuse.Batch) -> None:
    """Upload the files of `batch` over what today's folder holds of them; Stop unless each was uploaded."""
    outcome = _require_success(job, _run(job, folder, batch, "again"))
    if outcome.copied != len(batch.paths):
        raise Stop("ERROR", f"{len(batch.paths)} files were to be uploaded again, rclone copied {outcome.copied}")
    metrics = job.result.metrics
    metrics.update(uploaded_bytes=metrics.get("uploaded_bytes", 0) + outcome.uploaded_bytes,
                   server_side_bytes=max(metrics.get("server_side_bytes", 0) - batch.bytes, 0),
                   server_side_files=max(metrics.get("server_side_files", 0) - outcome.copied, 0))


def _copy_batch(job: Job, folder: str, batch: reuse.Batch, number: int, keep_existing: bool) -> rc.CopyOutcome:
    """One batch; a server-side batch the remote did not copy on the server is uploaded (and the remote marked)."""
    outcome = _run(job, folder, batch, number, keep_existing)
    if not batch.copy_dest:
        return _require_success(job, outcome)
    if outcome.returncode in (rc.MAX_TRANSFER_REACHED, rc.STOPPED):  # not the server's doing: no second try
        return _require_success(job, outcome)
    if outcome.returncode != 0 or outcome.errors:
        detail = "; ".join(outcome.messages) or f"rclone exit {outcome.returncode}"
        _give_up_server_side(job, f"its server-side copy failed ({detail})")
        return _require_success(job, _run(job, folder, dataclasses.replace(batch, copy_dest=None), number))
    outcome = _require_success(job, outcome)
    uploaded_instead = outcome.copied - outcome.server_side_copies
    if outcome.copied and not outcome.server_side_copies:
        _give_up_server_side(job, f"it uploaded all {outcome.copied} unchanged files instead")
    elif uploaded_instead:
        job.result.alert("INFO", f"{uploaded_instead} of {outcome.copied} unchanged files were uploaded, not copied "
                                 "on the server (their modification time changed)")
    return outcome


def _give_up_server_side(job: Job, why: str) -> None:
    job.rclone.copy_failed(job.backup.rclone_path)
    job.result.alert("WARNING", f"{rc.redact(rc.root_of(job.backup.rclone_path))} offers server-side copy but {why}; "
                                "this run uploads every file there")


def _run(job: Job, folder: str, batch: reuse.Batch, number: int | str, keep_existing: bool = False
         ) -> rc.CopyOutcome:
    list_file = batch.list_file or job.destination_file(f"files.{number}")
    if not batch.list_file:
        list_file.write_text("".join(f"{path}\n" for path in batch.paths), encoding="utf-8",
                             errors="surrogateescape")
    try:
        verb = f"copying to {destinations.where(job.backup)}" if destinations.several(job.backup) else "copying"
        with progress.of(job).showing(verb) as show:
            return job.rclone.copy(job.backup.source_dir, folder, list_file, job.log, max_bytes=batch.bytes,
                                   progress=lambda stats: show(progress.transferring(verb, stats)),
                                   copy_dest=batch.copy_dest, no_check_dest=batch.no_check_dest,
                                   ignore_existing=keep_existing)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"copy to {rc.redact(folder)} could not start: {error}") from None


def _require_success(job: Job, outcome: rc.CopyOutcome) -> rc.CopyOutcome:
    if outcome.returncode != 0 or outcome.errors:
        detail = "; ".join(outcome.messages) or "no error text"
        cause, needs_action = rc.known_cause(detail)
        raise Stop("CRITICAL" if needs_action else "ERROR",
                   f"copy to {job.result.destination} failed" + (f": {cause}" if cause else "")
                   + f" (rclone exit {outcome.returncode}, {outcome.errors} errors): {detail}",
                   rclone_exit=outcome.returncode, errors=outcome.errors)
    return outcome


def _combined(outcomes: list[rc.CopyOutcome]) -> rc.CopyOutcome:
    counted = ("copied", "replaced", "checks", "bytes", "errors", "server_side_copies", "server_side_bytes")
    return rc.CopyOutcome(returncode=0, messages=(),
                          **{field: sum(getattr(outcome, field) for outcome in outcomes) for field in counted})


def _not_there(job: Job, folder: str) -> str:
    """`; not at the destination: a, b`: the listed files a comparison finds missing, to name what rclone passed
    over; empty when the comparison cannot tell."""
    try:
        outcome = job.rclone.check(job.backup.source_dir, folder, job.state_file("files"), False,
                                   job.destination_file("check"))
    except rc.RcloneError:
        return ""
    return f"; not at the destination: {rc.first_names(list(outcome.missing), outcome.missing_count)}" \
        if outcome.missing else ""
