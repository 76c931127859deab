"""Work on dated folders already at the destination: verify one against its SHA256SUMS, restore one, drill.

Each reads the folder's own SHA256SUMS, so it proves what is there now, whatever happened since the copy.
"""

import datetime
import random
import sys
import tempfile
from pathlib import Path

from tasks import integrity, retention
from tasks import rclone as rc
from tasks.job import Job, Stop, as_stop
from tasks.kinds import Kind
from tasks.summary import format_bytes


def choose_folder(job: Job) -> str:
    """`<name>_<date=>` if the command line gives a date, else the newest complete folder. It must be sealed."""
    backup, rclone = job.backup, job.rclone
    where = rc.redact(backup.rclone_path)
    sealed = rclone.folders_holding(backup.rclone_path, integrity.SUMS_NAME)
    if job.run.day:
        folder = f"{backup.name}_{job.run.day}"
        if folder not in sealed:
            present = folder in rclone.list_folders(backup.rclone_path)
            raise Stop("ERROR", f"{folder} at {where} "
                                + ("has no SHA256SUMS: its copy never completed" if present else "does not exist"))
        return folder
    dated, _ = retention.dated_folders(backup.name, sealed, job.run.today)
    if not dated:
        raise Stop("ERROR", f"no complete folder of {backup.name} at {where}")
    return max(dated, key=dated.get)


def read_sums(job: Job, folder_path: str) -> dict[str, str]:
    sums = integrity.parse(job.rclone.read_text(rc.join(folder_path, integrity.SUMS_NAME)) or "")
    if not sums:
        raise Stop("ERROR", f"{integrity.SUMS_NAME} of {rc.redact(folder_path)} is missing or empty")
    return sums


def verify(job: Job) -> None:
    """Check every file of a folder against its SHA256SUMS, on the remote (downloading if it cannot hash)."""
    folder = choose_folder(job)
    folder_path = rc.join(job.backup.rclone_path, folder)
    sums = read_sums(job, folder_path)
    download = "sha256" not in job.rclone.hash_types(folder_path)
    sum_file = job.state_file(f"verify.{integrity.SUMS_NAME}")
    sum_file.write_text(integrity.render(sums), encoding="utf-8", errors="surrogateescape")
    outcome = job.rclone.checksum(sum_file, folder_path, download, job.state_file("verify.report"))
    job.result.destination, job.result.files = rc.redact(folder_path), len(sums)
    if not outcome.clean:
        raise Stop("ERROR", f"{folder} does not match its SHA256SUMS: {outcome.describe()}",
                   differ=len(outcome.differ), missing=len(outcome.missing))
    how = "downloaded and hashed here" if download else "hashed by the remote"
    job.result.reason = f"all {len(sums)} files of {folder} match its SHA256SUMS ({how})"
    job.result.alert("INFO", job.result.reason)


def restore(job: Job) -> None:
    """Download a whole dated folder into `target` and check every file against its SHA256SUMS."""
    if not job.run.target:
        raise Stop("ERROR", f"say where to restore: doit run restore:{job.backup.name} target=/path "
                            "[date=YYYY-MM-DD]")
    target = Path(job.run.target).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise Stop("ERROR", f"target {target} is not a folder")
    if target.is_dir() and any(target.iterdir()) and not job.run.overwrite:
        raise Stop("ERROR", f"target {target} is not empty; restoring would mix or overwrite files. "
                            "Choose an empty folder, or add overwrite=1")
    folder = choose_folder(job)
    folder_path = rc.join(job.backup.rclone_path, folder)
    sums = read_sums(job, folder_path)
    job.result.destination, job.result.files = str(target), len(sums)
    if job.run.dry_run:
        job.result.reason = f"dry run: would restore {len(sums)} files of {folder} into {target}"
        job.result.alert("INFO", job.result.reason)
        return
    target.mkdir(parents=True, exist_ok=True)
    job.rclone.download(folder_path, target, progress=sys.stdout.isatty())
    differ, missing = integrity.compare(sums, target)
    if differ or missing:
        raise Stop("ERROR", f"restored {folder} into {target}, but {len(differ)} files differ from SHA256SUMS "
                            f"({', '.join(differ[:20])}) and {len(missing)} are missing ({', '.join(missing[:20])})")
    job.result.reason = f"restored {len(sums)} files of {folder} into {target}; all match SHA256SUMS"
    job.result.alert("INFO", job.result.reason)


def drill(job: Job, rng: random.Random | None = None) -> None:
    """Download a random sample of the newest complete folder into a temporary folder and check it."""
    backup = job.backup
    folder = choose_folder(job)
    folder_path = rc.join(backup.rclone_path, folder)
    sums = read_sums(job, folder_path)
    files = [(path, size) for path, size in job.rclone.list_files(folder_path) if path in sums]
    chosen = integrity.sample(files, backup.drill_files, int(backup.drill_max_mb * 1024 * 1024),
                              rng or random.Random())
    with tempfile.TemporaryDirectory(prefix="backup-drill-") as scratch:
        list_file = Path(scratch) / "files"
        list_file.write_text("".join(f"{path}\n" for path in chosen), encoding="utf-8", errors="surrogateescape")
        job.rclone.download(folder_path, Path(scratch) / "restored", file_list=list_file)
        differ, missing = integrity.compare({path: sums[path] for path in chosen}, Path(scratch) / "restored")
    size = sum(s for path, s in files if path in chosen)
    job.result.metrics["drill"] = {"folder": folder, "files": len(chosen), "bytes": size}
    if differ or missing:
        raise Stop("ERROR", f"restore drill of {folder}: {len(differ)} of {len(chosen)} sampled files are "
                            f"corrupted ({', '.join(differ)}) and {len(missing)} missing ({', '.join(missing)})")
    job.result.alert("INFO", f"restore drill: {len(chosen)} files ({format_bytes(size)}) of {folder} downloaded "
                             "and matched SHA256SUMS")


def _drill_record(job: Job) -> Path:
    return job.run.state_dir / "drills" / job.backup.name


def drill_due(job: Job) -> bool:
    """`drill_every_days` have passed since the last drill that passed (or there was none)."""
    if not job.backup.drill_every_days:
        return False
    try:
        last = datetime.date.fromisoformat(_drill_record(job).read_text().strip())
    except (FileNotFoundError, ValueError):
        return True
    return (job.run.today - last).days >= job.backup.drill_every_days


def scheduled_drill(job: Job) -> None:
    """The drill a backup run does when one is due: its outcome is one more alert of that backup, and only a
    drill that passed is remembered, so a failed one is tried again next run."""
    try:
        drill(job)
    except (Stop, rc.RcloneError) as failure:
        stop = as_stop(failure)
        job.result.alert(stop.level, stop.message, **stop.metrics)
        return
    _drill_record(job).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _drill_record(job).write_text(job.run.today.isoformat() + "\n")


KINDS = (
    Kind("verify", "check the newest (or date=YYYY-MM-DD) complete folder against its SHA256SUMS", verify),
    Kind("restore", "download a dated folder and check it: restore:NAME target=/path [date=YYYY-MM-DD] "
                    "[overwrite=1]", restore),
    Kind("drill", "restore drill now: download a random sample of the newest complete folder and check it", drill),
)
