"""`mode: dated` at one destination: today's `<name>_YYYY-MM-DD` folder made ready, copied (unchanged files on the
server from the newest sealed folder where the remote can), confirmed, verified, sealed, and only then old folders
pruned (tasks.pruning states the rule).

The steps every mode module has (tasks.archive is the other): `dry_run`; `prepare`, which runs before the source is
hashed, so the hash each destination checks its copy with is computed in that one read; and `copy`, which does the
rest. Every step raises Stop when it cannot go on.
"""

import dataclasses

from tasks import copying, host_marker, integrity, retention, reuse, sealed_folder, sealing
from tasks import rclone as rc
from tasks.job import Job, Stop
from tasks.pruning import TodaysCopy, prune
from tasks.source_sums import SourceSums, require_all_hashed
from tasks.summary import format_bytes

OLD_COPIES_KEPT = "Old copies are kept; today's folder stays incomplete (no SHA256SUMS)."
SEALED = "Today's copy is complete and sealed."


@dataclasses.dataclass
class Prepared:
    """Today's folder at one destination, ready for the copy."""

    job: Job
    todays_sums: str                    # what an earlier run today sealed there (proven), else ""
    earlier: reuse.Reference | None     # the sealed folder unchanged files are copied from on the server
    check_kind: str | None              # the hash the copy is checked with against this run's sums


def todays_folder(job: Job) -> str:
    return rc.join(job.backup.rclone_path, todays_name(job))


def todays_name(job: Job) -> str:
    return retention.folder_name(job.backup.name, job.run.today)


def dry_run(job: Job, chosen) -> None:
    job.result.destination = rc.redact(todays_folder(job))
    job.result.alert("INFO", f"dry run: would copy {chosen.files} files ({format_bytes(chosen.bytes)}) to "
                             f"{job.result.destination}")
    prune(job, TodaysCopy())


def prepare(job: Job) -> Prepared:
    """List the destination once, unseal today's folder when an earlier run today sealed it, and find the folder
    to copy unchanged files from."""
    job.result.destination = rc.redact(todays_folder(job))
    names, complete = _dated_folders(job)
    todays_sums = sealing.unseal(job, todays_folder(job), present=todays_name(job) in names)
    job.consequence = OLD_COPIES_KEPT
    earlier = reuse.reference(job, names, complete)
    _features(job)  # asked here, where a failure can stop the backup; cached for the run
    return Prepared(job, todays_sums, earlier, sealing.check_hash(job))


def copy(prepared: Prepared, chosen, sums: SourceSums) -> None:
    """Copy, confirm, verify, seal, prune: the order that makes pruning safe."""
    job = prepared.job
    copy = TodaysCopy()
    if prepared.earlier:
        batches = _with_reference(prepared, sums)
    else:
        sums.start()  # hashed meanwhile: reading the source twice at once costs no time
        batches = [reuse.Batch(list_file=job.state_file("files"), bytes=job.result.bytes,
                               no_check_dest=not _features(job).compares_content)]
    copying.copy_batches(job, todays_folder(job), batches, chosen.files)
    copy.confirmed = True
    if chosen.problems:
        raise Stop("ERROR", f"{chosen.problems} entries in {job.backup.source_dir} could not be copied: "
                            + "; ".join(chosen.problem_examples), problems=chosen.problems)
    require_all_hashed(job, sums.wait())
    copy.verified = _verify(job, batches, prepared.earlier)
    copy.sealed = sealing.seal(job, todays_folder(job), prepared.todays_sums)
    job.consequence = SEALED
    prune(job, copy)


def _dated_folders(job: Job) -> tuple[list[str], set[str]]:
    """The folders at the destination and which are sealed, in one listing, which also shows whether another host
    writes this backup there (tasks.host_marker)."""
    where = rc.redact(job.backup.rclone_path)
    try:
        names, sealed, files = job.rclone.folders(job.backup.rclone_path, integrity.SUMS_NAME)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot list {where}: {error}") from None
    if todays_name(job) in files:
        raise Stop("ERROR", f"{todays_name(job)} at {where} is a file, where today's folder goes: move it away")
    host_marker.claim(job, files)
    return names, sealed


def _with_reference(prepared: Prepared, sums: SourceSums) -> list[reuse.Batch]:
    """Hashed first: the sums decide which files are unchanged since the reference folder and copied on the
    server."""
    job = prepared.job
    require_all_hashed(job, sums.wait())
    source_sums = integrity.parse(job.state_file(integrity.SUMS_NAME).read_text(encoding="utf-8",
                                                                                  errors="surrogateescape"))
    return reuse.batches(reuse.listed_with_sizes(job.state_file("files")), source_sums, prepared.earlier,
                         integrity.parse(prepared.todays_sums), _features(job).compares_content)


def _features(job: Job) -> rc.Features:
    try:
        return job.rclone.features(job.backup.rclone_path)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot ask {rc.redact(job.backup.rclone_path)} what it supports: {error}") from None


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
