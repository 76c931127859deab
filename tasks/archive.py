"""`mode: archive` at one destination: cold storage. Each selected file is copied once into `<rclone_path>/<its
path>`, proven there by sha256 against this run's own sums of the source, and only then listed in the destination's
append-only manifest, ARCHIVE-SHA256SUMS (the `sha256sum -c` format, each run's lines under a `# archived DATE by
HOST (backup NAME)` comment).

Nothing there is ever overwritten or deleted by the tool: a file archived with the same sha256 is skipped, a changed
file whose path is taken is stored beside it (`report.pdf` -> `report.2026-12-02.pdf`), and a copy that fails its
check is not listed (it stays, unlisted: only rclone could tell whether it is this run's upload; the next run
stores the file beside it). With
`delete_source_after_archive`, tasks.source_removal deletes what every destination proved in this run.

The same steps as tasks.dated_copy: `dry_run`, `prepare`, `copy`.
"""

import dataclasses
import datetime
import re
import socket

from tasks import copying, host_marker, integrity, reuse
from tasks import rclone as rc
from tasks.job import Job, Stop
from tasks.source_removal import delete_sources
from tasks.source_sums import SourceSums
from tasks.summary import format_bytes

__all__ = ["MANIFEST", "Plan", "beside", "copy", "delete_sources", "dry_run", "plan", "prepare"]

MANIFEST = integrity.ARCHIVE_NAME
NOT_ARCHIVED = "Nothing archived in this run is listed in ARCHIVE-SHA256SUMS; the source is untouched."
ARCHIVED = "The files proven at the destination are listed in ARCHIVE-SHA256SUMS."


@dataclasses.dataclass
class Plan:
    """Where each file of this run goes at one destination (pure: see `plan`)."""

    upload: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)  # (source path, sha256, size)
    beside: list[tuple[str, str, str, int]] = dataclasses.field(default_factory=list)  # (source, stored as, …)
    already: list[tuple[str, str, str, int]] = dataclasses.field(default_factory=list)  # (source, archived as, …)


@dataclasses.dataclass
class Prepared:
    """One destination's archive as the run found it, and what it proved in this run."""

    job: Job
    manifest: str                     # its ARCHIVE-SHA256SUMS as read ("" when there is none yet)
    present: set[str]                 # every file there
    check_kind: str = "sha256"        # always this run's sha256 (downloaded back where the remote has none)
    proven: dict[str, str] = dataclasses.field(default_factory=dict)  # source path -> sha256 proven there now


def beside(path: str, day: datetime.date, taken) -> str:
    """`dir/report.pdf` -> `dir/report.2026-12-02.pdf` (then `…-2.pdf` …): a name next to `path` not in `taken`."""
    folder, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    for number in range(1, len(taken) + 2):
        tag = day.isoformat() + (f"-{number}" if number > 1 else "")
        candidate = f"{stem}.{tag}{dot}{suffix}" if dot else f"{name}.{tag}"
        candidate = f"{folder}/{candidate}" if folder else candidate
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: more candidates than taken names")


_DATE_TAG = re.compile(r"\.\d{4}-\d{2}-\d{2}(?:-\d+)?(?=\.[^./]*$|$)")


def _origin(archived_as: str) -> str:
    """The source path a name stored beside came from (`report.2026-12-02.pdf` -> `report.pdf`)."""
    folder, _, name = archived_as.rpartition("/")
    return (f"{folder}/" if folder else "") + _DATE_TAG.sub("", name, count=1)


def plan(files, archived: dict[str, str], present: set[str], day: datetime.date) -> Plan:
    """Pure: each (path, sha256, size) is already archived (the same sha256 listed at its path, or beside it, and
    the file is there), uploaded to its own path (free), or stored beside it (the path is taken by another
    content, by a file the manifest does not know, or by the manifest itself)."""
    by_origin: dict[tuple[str, str], str] = {}
    for archived_as, digest in archived.items():
        if archived_as in present:
            by_origin.setdefault((_origin(archived_as), digest), archived_as)
            by_origin[(archived_as, digest)] = archived_as
    decided, taken = Plan(), set(present) | {MANIFEST}
    for path, digest, size in files:
        if (path, digest) in by_origin:
            decided.already.append((path, by_origin[(path, digest)], digest, size))
        elif path not in taken:
            decided.upload.append((path, digest, size))
            taken.add(path)
        else:
            stored_as = beside(path, day, taken)
            decided.beside.append((path, stored_as, digest, size))
            taken.add(stored_as)
    return decided


def dry_run(job: Job, chosen) -> None:
    """What the archive would take, by path (a dry run reads no file, so content is compared when it runs)."""
    prepared = prepare(job)
    listed = reuse.listed_with_sizes(job.state_file("files"))
    new = [(path, size) for path, size in listed if path not in prepared.present]
    job.result.alert("INFO", f"dry run: would archive {len(new)} new files ({format_bytes(sum(s for _, s in new))}) "
                             f"at {job.result.destination}; {len(listed) - len(new)} of the {chosen.files} selected "
                             "paths are there already (archived again, beside, only if changed)")


def prepare(job: Job) -> Prepared:
    """Read the destination's manifest and list what it holds."""
    where = rc.redact(job.backup.rclone_path)
    job.result.destination = where
    try:
        manifest = job.rclone.read_text(rc.join(job.backup.rclone_path, MANIFEST)) or ""
        present = {path for path, _ in job.rclone.list_files(job.backup.rclone_path, missing_ok=True)}
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot read the archive at {where}: {error}") from None
    archived = integrity.parse(manifest)  # an archived file may be named like a marker: it is not one
    host_marker.claim(job, {path for path in present if "/" not in path and path not in archived}, whole_path=True)
    job.consequence = NOT_ARCHIVED
    return Prepared(job, manifest, present)


def _plan(prepared: Prepared) -> Plan:
    job = prepared.job
    listed = reuse.listed_with_sizes(job.state_file("files"))
    sums_file = job.state_file(integrity.SUMS_NAME)
    digests = integrity.parse(sums_file.read_text(encoding="utf-8", errors="surrogateescape"))
    return plan([(path, digests[path], size) for path, size in listed if path in digests],
                integrity.parse(prepared.manifest), prepared.present, job.run.today)


def copy(prepared: Prepared, chosen, sums: SourceSums) -> None:
    """Upload what is not archived yet, check every upload (and, when source files are to be deleted, every file
    already archived) by sha256 at the destination, then list the proven uploads in the manifest."""
    job = prepared.job
    hashed = sums.wait()
    if "stopped" in hashed:
        raise Stop("CRITICAL", hashed["stopped"])
    decided = _plan(prepared)
    uploads = decided.upload + [(stored_as, digest, size) for _, stored_as, digest, size in decided.beside]
    _upload(job, decided)
    checked = [(stored_as, digest) for stored_as, digest, _ in uploads]
    if job.backup.delete_source_after_archive:
        checked += [(archived_as, digest) for _, archived_as, digest, _ in decided.already]
    bad = _check(job, checked)
    good = [(stored_as, digest) for stored_as, digest, _ in uploads if stored_as not in bad]
    _append(job, prepared, good, complete=not bad and not hashed["problems"])
    job.consequence = ARCHIVED
    origins = {stored_as: path for path, stored_as, _, _ in decided.beside} | \
              {archived_as: path for path, archived_as, _, _ in decided.already}
    prepared.proven = {origins.get(stored_as, stored_as): digest for stored_as, digest in checked
                       if stored_as not in bad}
    job.result.metrics.update(archived_files=len(good), archived_bytes=sum(s for p, _, s in uploads if p not in bad),
                              already_archived=len(decided.already), stored_beside=len(decided.beside))
    if decided.beside:
        job.result.alert("INFO", f"{len(decided.beside)} changed files stored beside their earlier archived "
                                 "version: " + rc.first_names([f"{path} -> {stored_as}" for path, stored_as, *_ in
                                                               decided.beside], len(decided.beside)))
    problems = hashed["problems"]
    failed_uploads = sorted(bad & {stored_as for stored_as, _, _ in uploads})
    rotted = sorted(bad - set(failed_uploads))
    found = []
    if failed_uploads:
        found.append(f"{len(failed_uploads)} uploaded files did not match their sha256 at {job.result.destination} "
                     f"and are not archived (not listed in {MANIFEST}; the next run uploads them again): "
                     + rc.first_names(failed_uploads, len(failed_uploads)))
    if rotted:
        found.append(f"{len(rotted)} archived files at {job.result.destination} no longer match their sha256 in "
                     f"{MANIFEST} (rotted or changed there; their source files are kept): "
                     + rc.first_names(rotted, len(rotted)))
    if found:
        raise Stop("ERROR", "; ".join(found), mismatched=len(bad))
    if problems:
        raise Stop("ERROR", f"{len(problems)} files changed or vanished while they were read, so they are not "
                            "archived: " + "; ".join(problems[:20]))


def _upload(job: Job, decided: Plan) -> None:
    """New paths in one copy that never replaces a file; each file stored beside an earlier version on its own."""
    if decided.upload:
        batch = reuse.Batch(no_check_dest=False)
        for path, _, size in decided.upload:
            batch.add(path, size)
        copying.copy_batches(job, job.backup.rclone_path, [batch], len(batch.paths), keep_existing=True)
    for path, stored_as, _, _ in decided.beside:
        try:
            job.rclone.upload(job.backup.source_dir / path, rc.join(job.backup.rclone_path, *stored_as.split("/")))
        except rc.RcloneError as error:
            raise Stop("ERROR", f"cannot store {stored_as} at {job.result.destination}: {error}") from None


def _check(job: Job, checked: list[tuple[str, str]]) -> set[str]:
    """The files of `checked` that do not have their sha256 at the destination (hashed by the remote where it
    can, else downloaded and hashed here)."""
    if not checked:
        return set()
    sum_file = job.destination_file(f"archive.{integrity.SUMS_NAME}")
    sum_file.write_text(integrity.render(dict(checked)), encoding="utf-8", errors="surrogateescape")
    download = "sha256" not in job.rclone.features(job.backup.rclone_path).hashes
    try:
        outcome = job.rclone.checksum(sum_file, job.backup.rclone_path, download, job.destination_file("check"))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"the archived files at {job.result.destination} could not be checked: {error}") \
            from None
    job.result.metrics["verified"] = "download" if download else "sha256"
    named = outcome.differ_count == len(outcome.differ) and outcome.missing_count == len(outcome.missing)
    if outcome.errors_count or outcome.matched + outcome.differ_count + outcome.missing_count < len(checked):
        raise Stop("ERROR", f"the check of the archived files at {job.result.destination} was incomplete: "
                            + outcome.describe())
    return set(outcome.differ) | set(outcome.missing) if named else {stored_as for stored_as, _ in checked}


def _append(job: Job, prepared: Prepared, good: list[tuple[str, str]], complete: bool) -> None:
    """Add this run's proven files to the manifest: read again just before (another run may have added its
    lines), this run's block appended, the whole uploaded; never a line removed. A run that found nothing new and
    nothing wrong says so in one `# checked DATE` line: the archive is as fresh as that day (tasks.status)."""
    if not good and not complete:
        return
    path = rc.join(job.backup.rclone_path, MANIFEST)
    said = "archived" if good else "checked"
    heading = (f"# {said} {job.run.today.isoformat()} by {socket.gethostname()} (backup {job.backup.name})"
               + ("" if good else ": nothing new, every selected file is archived") + "\n")
    try:
        current = job.rclone.read_text(path) or ""
        if not current.startswith(prepared.manifest):
            job.result.alert("WARNING", f"{MANIFEST} at {job.result.destination} changed during the run and no "
                                        "longer begins with what it held before: someone rewrote it; this run's "
                                        "lines are appended to it as it is now")
        text = current + ("" if not current or current.endswith("\n") else "\n") + heading + \
            "".join(f"{digest}  {stored_as}\n" for stored_as, digest in good)
        local = job.destination_file(MANIFEST)
        local.write_text(text, encoding="utf-8", errors="surrogateescape")
        job.rclone.upload(local, path)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot add {len(good)} files to {MANIFEST} at {job.result.destination}: {error}. "
                            "They are at the destination but not listed; the next run stores them again beside") \
            from None
    prepared.manifest = text
    job.log.info("archived %d files at %s", len(good), job.result.destination)

