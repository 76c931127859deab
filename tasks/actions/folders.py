"""Work on what is already at a destination: verify a dated folder against its SHA256SUMS, restore one, drill;
for an archive (`mode: archive`), the same on every file its ARCHIVE-SHA256SUMS lists.

Each reads the folder's own checksum file, so it proves what is there now, whatever happened since the copy. The
destination is not trusted: SHA256SUMS must match its SHA256SUMS.hmac (this host's key; a folder without one is
used with a warning), its entries must be plain paths inside the folder, only the files it lists are restored or
checked, and a file it lists that the destination lacks is reported as missing. `dest=N` (or the remote's name)
picks one of several destinations; the first by default.
"""

import datetime
import os
import random
import tempfile
from pathlib import Path

from tasks import file_safety, integrity, progress, restic_engine
from tasks import rclone as rc
from tasks.job import Job, Stop, as_stop
from tasks.kinds import Kind
from tasks.sealed_folder import at_chosen_destination, at_destination, names, sealed, trust
from tasks.summary import format_bytes
from tasks.tool_errors import ToolError


def _write_list(file_list: Path, paths) -> None:
    file_list.write_text("".join(f"{path}\n" for path in paths), encoding="utf-8", errors="surrogateescape")


def verify(job: Job) -> None:
    """Check every file a folder's SHA256SUMS lists against it, on the remote (downloading if it cannot hash); a
    restic repository: every byte of it read back and checked."""
    if job.backup.engine == "restic":
        restic_engine.verify(job)
        return
    found = sealed(job)
    at_destination(job, found.folder, found.path, found.sums, "not checked", found.sums_name)
    download = "sha256" not in job.rclone.features(found.path).hashes
    sum_file = job.state_file(f"verify.{integrity.SUMS_NAME}")
    sum_file.write_text(integrity.render(found.sums), encoding="utf-8", errors="surrogateescape")
    outcome = job.rclone.checksum(sum_file, found.path, download, job.state_file("verify.report"))
    job.result.destination, job.result.files = rc.redact(found.path), len(found.sums)
    if not outcome.clean:
        raise Stop("ERROR", f"{found.folder} does not match its {found.sums_name}: {outcome.describe()}",
                   differ=outcome.differ_count, missing=outcome.missing_count)
    how = "downloaded and hashed here" if download else "hashed by the remote"
    job.result.reason = (f"all {len(found.sums)} files of {found.folder} match its {found.sums_name} ({how}; "
                         f"{trust(found.authentic)})")
    job.result.alert("INFO", job.result.reason)


def restore(job: Job) -> None:
    """Download the files a dated folder's SHA256SUMS lists into `target` and check each against it."""
    if not job.run.target:
        raise Stop("ERROR", f"say where to restore: doit run restore:{job.backup.name} target=/path "
                            "[date=YYYY-MM-DD | snapshot=ID]")
    target = Path(job.run.target).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise Stop("ERROR", f"target {target} is not a folder")
    if target.is_dir() and any(target.iterdir()) and not job.run.overwrite:
        raise Stop("ERROR", f"target {target} is not empty; restoring would mix or overwrite files. "
                            "Choose an empty folder, or add overwrite=1")
    job.consequence = "Nothing was restored."
    if job.backup.engine == "restic":
        restic_engine.restore(job, target)
        return
    found = sealed(job)
    folder, folder_path, sums = found.folder, found.path, found.sums
    present, absent = at_destination(job, folder, folder_path, sums, "not restored", found.sums_name)
    job.result.destination, job.result.files = str(target), len(sums)
    if job.run.dry_run:
        if absent:
            raise Stop("ERROR", f"dry run: {len(absent)} of the {len(sums)} files {found.sums_name} of {folder} "
                                f"lists are missing at the destination ({names(absent)}); the others would be restored "
                                f"into {target}", missing=len(absent))
        job.result.reason = f"dry run: would restore {len(sums)} files of {folder} into {target}"
        job.result.alert("INFO", job.result.reason)
        return
    target.mkdir(mode=0o700, parents=True, exist_ok=True)  # the run's umask (077) makes the parents 0700 too
    job.consequence = ""
    with tempfile.TemporaryDirectory(prefix="backup-restore-") as scratch:
        file_list = Path(scratch) / "files"
        _write_list(file_list, sorted(present))  # rclone fails a whole download that names an absent file
        job.rclone.download(folder_path, target, file_list=file_list, progress=progress.of(job).transfer("restoring"))
    _write_private(target / found.sums_name, found.exact)
    differ, not_restored = integrity.compare(sums, target)
    missing = sorted(set(absent) | set(not_restored))
    if differ or missing:
        raise Stop("ERROR", f"restored {folder} into {target}, but {len(differ)} files differ from {found.sums_name} "
                            f"({names(differ)}) and {len(missing)} are missing ({names(missing)})",
                   differ=len(differ), missing=len(missing))
    job.result.reason = (f"restored {len(sums)} files of {folder} into {target}; all match {found.sums_name} "
                         f"({trust(found.authentic)})")
    job.result.alert("INFO", job.result.reason)


def _write_private(path: Path, content: bytes) -> None:
    """The authenticated SHA256SUMS beside the restored files (so `sha256sum -c SHA256SUMS` works there), never
    through a link."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
    except OSError as error:
        raise Stop("ERROR", f"cannot write {path}: {error.strerror}") from None


def drill(job: Job, rng: random.Random | None = None) -> None:
    """`drill:NAME`: a drill now, its outcome the task's own line, so the person who asked reads what was checked
    (files, bytes, folder) in the summary printed at the end."""
    job.result.reason = (restic_engine.drill if job.backup.engine == "restic" else sample_and_check)(job, rng)


def sample_and_check(job: Job, rng: random.Random | None = None) -> str:
    """Download a random sample of the files the newest complete folder's SHA256SUMS lists into a temporary folder
    and check it; every listed file the destination lacks is reported as missing. Leaves an INFO alert and returns
    it: what was checked."""
    backup = job.backup
    chosen_folder = sealed(job)
    folder, folder_path, sums, authentic = chosen_folder.folder, chosen_folder.path, chosen_folder.sums, \
        chosen_folder.authentic
    found, missing = at_destination(job, folder, folder_path, sums, "not checked", chosen_folder.sums_name)
    chosen = integrity.sample(sorted(found.items()), backup.drill_files, int(backup.drill_max_mb * 1024 * 1024),
                              rng or random.Random())
    differ = []
    if chosen:
        with tempfile.TemporaryDirectory(prefix="backup-drill-") as scratch:
            list_file = Path(scratch) / "files"
            _write_list(list_file, chosen)
            job.rclone.download(folder_path, Path(scratch) / "restored", file_list=list_file)
            differ, vanished = integrity.compare({path: sums[path] for path in chosen}, Path(scratch) / "restored")
        missing = sorted(set(missing) | set(vanished))
    size = sum(found[path] for path in chosen)
    job.result.metrics["drill"] = {"folder": folder, "files": len(chosen), "bytes": size}
    problems = []
    if differ:
        problems.append(f"{len(differ)} of {len(chosen)} sampled files are corrupted ({names(differ)})")
    if missing:
        problems.append(f"{len(missing)} of the {len(sums)} files listed in {chosen_folder.sums_name} are missing "
                        f"at the destination ({names(missing)})")
    if problems:
        raise Stop("ERROR", f"restore drill of {folder}: " + "; ".join(problems), differ=len(differ),
                   missing=len(missing))
    checked = (f"restore drill: {len(chosen)} files ({format_bytes(size)}) of {folder} downloaded and matched "
               f"{chosen_folder.sums_name} ({trust(authentic)})")
    job.result.alert("INFO", checked)
    return checked


def drill_record(state_dir: Path, backup) -> Path:
    """The date of the last drill that passed, per destination (`doit status` reads it too)."""
    return state_dir / "drills" / (backup.name + backup.destination_tag)


def drill_due(job: Job) -> bool:
    """`drill_every_days` have passed since the last drill that passed (or there was none)."""
    if not job.backup.drill_every_days:
        return False
    try:
        last = datetime.date.fromisoformat(drill_record(job.run.state_dir, job.backup).read_text().strip())
    except (FileNotFoundError, ValueError):
        return True
    return (job.run.today - last).days >= job.backup.drill_every_days


def scheduled_drill(job: Job) -> None:
    """The drill a backup run does when one is due: its outcome is one more alert of that backup, and only a
    drill that passed is remembered, so a failed one is tried again next run."""
    try:
        (restic_engine.drill if job.backup.engine == "restic" else sample_and_check)(job)  # an INFO alert
    except (Stop, ToolError) as failure:
        stop = as_stop(failure)
        job.result.alert(stop.level, stop.message, **stop.metrics)
        return
    record = drill_record(job.run.state_dir, job.backup)
    file_safety.private_folder(record.parent, "drill records folder")
    with open(file_safety.open_private(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "drill record"), "w") as out:
        out.write(job.run.today.isoformat() + "\n")


KINDS = (
    Kind("verify", "check the newest (or date=YYYY-MM-DD) complete folder (or the archive) against its checksum "
                   "file [dest=N]", at_chosen_destination(verify)),
    Kind("restore", "download a dated folder (or the archive) and check it: restore:NAME target=/path "
                    "[date=YYYY-MM-DD] [dest=N] [overwrite=1]", at_chosen_destination(restore)),
    Kind("drill", "restore drill now: download a random sample of the newest complete folder (or the archive) and "
                  "check it [dest=N]", at_chosen_destination(drill)),
)
