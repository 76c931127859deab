"""`delete_source_after_archive`: a source file is deleted only when every destination of its archive proved, in
this run, a copy with the sha256 the file has, and the file still has that sha256 when it is deleted.

Nothing is deleted on a dry run, or when any destination failed or was skipped: one unproven copy keeps every
source file. The deletion runs in a watched child (tasks.integrity.delete_if_unchanged: a hung mount cannot hang the
run), each file read once more and unlinked only if unchanged; every deletion is recorded (path, size, sha256,
destinations) in the result, the log and the summary. A source mounted read-only is said as such, not as a failure.
"""

from tasks import destinations, integrity, reuse, watchdog
from tasks.job import Job, Stop
from tasks.summary import format_bytes

KEPT = "Source files are kept."


def delete_sources(job: Job, archived) -> None:
    """`archived`: (job, what it proved) of each destination, the proof None where it did not get that far."""
    if job.run.dry_run:
        return
    places = [destinations.where(at.backup) for at, _ in archived]
    failed = [place for place, (at, proof) in zip(places, archived, strict=True)
              if proof is None or not at.result.succeeded]
    if failed:
        job.result.alert("WARNING", f"no source file deleted: the archive at {', '.join(failed)} was not proven in "
                                    "this run")
        return
    proofs = [proof.proven for _, proof in archived]
    candidates = {path: digest for path, digest in proofs[0].items()
                  if all(other.get(path) == digest for other in proofs[1:])}
    if not candidates:
        return
    sizes = dict(reuse.listed_with_sizes(job.state_file("files")))
    sums_file = job.state_file("delete.SHA256SUMS")
    sums_file.write_text(integrity.render(candidates), encoding="utf-8", errors="surrogateescape")
    job.consequence = KEPT
    try:
        done = watchdog.run_child("delete_archived", {"source": str(job.backup.source_dir),
                                                      "sums_file": str(sums_file)},
                                  job.run.stall_timeout, job.run.deadline)
    except watchdog.Stalled as error:
        raise Stop("ERROR", watchdog.why_stopped(error, f"source folder {job.backup.source_dir}",
                                                 "deleted from")) from None
    _record(job, done, candidates, sizes, places)


def _record(job: Job, done: dict, candidates: dict[str, str], sizes: dict[str, int], places: list[str]) -> None:
    deleted = [{"path": path, "size": sizes.get(path, 0), "sha256": candidates[path], "destinations": places}
               for path in done["deleted"]]
    for entry in deleted:
        job.log.info("deleted source file %s (%d bytes, sha256 %s), archived at %s", entry["path"], entry["size"],
                     entry["sha256"], ", ".join(places))
    job.result.metrics["deleted_sources"] = deleted
    if deleted:
        total = sum(entry["size"] for entry in deleted)
        job.result.alert("INFO", f"deleted {len(deleted)} source files ({format_bytes(total)}), each proven by sha256 "
                                 f"at {', '.join(places)}: "
                                 + ", ".join(entry["path"] for entry in deleted[:SHOWN]) + _more(len(deleted)))
    read_only = [path for path, why in done["kept"] if why == integrity.READ_ONLY]
    kept = [(path, why) for path, why in done["kept"] if why != integrity.READ_ONLY]
    if read_only:
        job.result.alert("WARNING", f"source folder {job.backup.source_dir} is read-only, so the "
                                    f"{len(read_only)} archived files stay there (delete_source_after_archive "
                                    "needs a writable mount); the archive itself is complete")
    if kept:
        job.result.alert("WARNING", f"{len(kept)} archived source files were not deleted: "
                                    + "; ".join(f"{path} ({why})" for path, why in kept[:SHOWN]) + _more(len(kept)))


SHOWN = 100  # names in one alert; the result file and the log have every one


def _more(count: int) -> str:
    return f" and {count - SHOWN} more (all in the log)" if count > SHOWN else ""
