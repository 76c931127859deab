"""Work on dated folders already at the destination: verify one against its SHA256SUMS, restore one, drill.

Each reads the folder's own SHA256SUMS, so it proves what is there now, whatever happened since the copy.
"""

import datetime
import random
import tempfile
from pathlib import Path

from tasks import integrity, retention
from tasks import rclone as rc
from tasks.config import Backup
from tasks.results import Result
from tasks.summary import format_bytes


class FolderError(Exception):
    """The folder asked for cannot be used; the message says why."""


def choose_folder(backup: Backup, tool: rc.Rclone, day: str | None, today: datetime.date) -> str:
    """`<name>_<day>` if a day is given, else the newest complete folder. It must be complete (sealed)."""
    sealed = tool.folders_holding(backup.rclone_path, integrity.SUMS_NAME)
    if day:
        folder = f"{backup.name}_{day}"
        if folder not in sealed:
            present = folder in tool.list_folders(backup.rclone_path)
            raise FolderError(f"{folder} at {rc.redact(backup.rclone_path)} "
                              + ("has no SHA256SUMS: its copy never completed" if present else "does not exist"))
        return folder
    dated, _ = retention.dated_folders(backup.name, sealed, today)
    if not dated:
        raise FolderError(f"no complete folder of {backup.name} at {rc.redact(backup.rclone_path)}")
    return max(dated, key=dated.get)


def _sums(tool: rc.Rclone, folder_path: str) -> dict[str, str]:
    text = tool.read_text(rc.join(folder_path, integrity.SUMS_NAME))
    sums = integrity.parse(text or "")
    if not sums:
        raise FolderError(f"{integrity.SUMS_NAME} of {rc.redact(folder_path)} is missing or empty")
    return sums


def verify(backup: Backup, tool: rc.Rclone, result: Result, day: str | None, today: datetime.date,
           work_dir: Path) -> None:
    """Check every file of a folder against its SHA256SUMS, on the remote (downloading if it cannot hash)."""
    try:
        folder = choose_folder(backup, tool, day, today)
        folder_path = rc.join(backup.rclone_path, folder)
        sums = _sums(tool, folder_path)
        download = "sha256" not in tool.hash_types(folder_path)
        sum_file = work_dir / f"{backup.name}.verify.{integrity.SUMS_NAME}"
        sum_file.write_text(integrity.render(sums), encoding="utf-8", errors="surrogateescape")
        outcome = tool.checksum(sum_file, folder_path, download, work_dir / f"{backup.name}.verify.report")
    except (FolderError, rc.RcloneError) as error:
        result.alert("ERROR", f"verify failed: {error}")
        return
    result.destination, result.files = rc.redact(folder_path), len(sums)
    how = "downloaded and hashed here" if download else "hashed by the remote"
    if outcome.clean:
        result.reason = f"all {len(sums)} files of {folder} match its SHA256SUMS ({how})"
        result.alert("INFO", result.reason)
    else:
        result.alert("ERROR", f"{folder} does not match its SHA256SUMS: {outcome.describe()}",
                     differ=len(outcome.differ), missing=len(outcome.missing))


def restore(backup: Backup, tool: rc.Rclone, result: Result, day: str | None, today: datetime.date,
            target: str | None, overwrite: bool, dry_run: bool, progress: bool) -> None:
    """Download a whole dated folder into `target` and check every file against its SHA256SUMS."""
    if not target:
        result.alert("ERROR", f"say where to restore: doit run restore:{backup.name} target=/path [date=YYYY-MM-DD]")
        return
    destination = Path(target).expanduser().resolve()
    if destination.exists() and not destination.is_dir():
        result.alert("ERROR", f"target {destination} is not a folder")
        return
    if destination.is_dir() and any(destination.iterdir()) and not overwrite:
        result.alert("ERROR", f"target {destination} is not empty; restoring would mix or overwrite files. "
                              "Choose an empty folder, or add overwrite=1")
        return
    try:
        folder = choose_folder(backup, tool, day, today)
        folder_path = rc.join(backup.rclone_path, folder)
        sums = _sums(tool, folder_path)
    except (FolderError, rc.RcloneError) as error:
        result.alert("ERROR", f"restore failed: {error}")
        return
    result.destination, result.files = str(destination), len(sums)
    if dry_run:
        result.reason = f"dry run: would restore {len(sums)} files of {folder} into {destination}"
        result.alert("INFO", result.reason)
        return
    destination.mkdir(parents=True, exist_ok=True)
    try:
        tool.download(folder_path, destination, progress=progress)
    except rc.RcloneError as error:
        result.alert("ERROR", f"restore of {folder} into {destination} failed: {error}")
        return
    differ, missing = integrity.compare(sums, destination)
    if differ or missing:
        result.alert("ERROR", f"restored {folder} into {destination}, but {len(differ)} files differ from "
                              f"SHA256SUMS ({', '.join(differ[:20])}) and {len(missing)} are missing "
                              f"({', '.join(missing[:20])})")
    else:
        result.reason = f"restored {len(sums)} files of {folder} into {destination}; all match SHA256SUMS"
        result.alert("INFO", result.reason)


def drill_due(backup: Backup, state_dir: Path, today: datetime.date) -> bool:
    if not backup.drill_every_days:
        return False
    try:
        last = datetime.date.fromisoformat((state_dir / "drills" / backup.name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return True
    return (today - last).days >= backup.drill_every_days


def record_drill(backup: Backup, state_dir: Path, today: datetime.date) -> None:
    (state_dir / "drills").mkdir(parents=True, exist_ok=True)
    (state_dir / "drills" / backup.name).write_text(today.isoformat() + "\n")


def drill(backup: Backup, tool: rc.Rclone, result: Result, today: datetime.date,
          rng: random.Random | None = None) -> None:
    """Download a random sample of the newest complete folder into a temporary folder and check it."""
    rng = rng or random.Random()
    try:
        folder = choose_folder(backup, tool, None, today)
        folder_path = rc.join(backup.rclone_path, folder)
        sums = _sums(tool, folder_path)
        files = [(path, size) for path, size in tool.list_files(folder_path) if path in sums]
        chosen = integrity.sample(files, backup.drill_files, int(backup.drill_max_mb * 1024 * 1024), rng)
        with tempfile.TemporaryDirectory(prefix="backup-drill-") as scratch:
            list_file = Path(scratch) / "files"
            list_file.write_text("".join(f"{path}\n" for path in chosen), encoding="utf-8",
                                 errors="surrogateescape")
            tool.download(folder_path, Path(scratch) / "restored", file_list=list_file)
            differ, missing = integrity.compare({path: sums[path] for path in chosen}, Path(scratch) / "restored")
    except (FolderError, rc.RcloneError) as error:
        result.alert("ERROR", f"restore drill failed: {error}")
        return
    size = sum(s for path, s in files if path in chosen)
    result.metrics["drill"] = {"folder": folder, "files": len(chosen), "bytes": size}
    if differ or missing:
        result.alert("ERROR", f"restore drill of {folder}: {len(differ)} of {len(chosen)} sampled files are "
                              f"corrupted ({', '.join(differ)}) and {len(missing)} missing ({', '.join(missing)})")
    else:
        result.alert("INFO", f"restore drill: {len(chosen)} files ({format_bytes(size)}) of {folder} downloaded "
                             "and matched SHA256SUMS")
