"""Server-side copy of unchanged files: each file that did not change since the newest sealed dated folder is copied
on the server from there (rclone's --copy-dest), so it crosses no network, and today's folder is still a complete,
plain copy.

"Unchanged" is decided here, never by rclone's size and modtime: a file is unchanged only when this run's sha256 of
the source equals the entry for the same path in that folder's SHA256SUMS, and that SHA256SUMS is proven by this
host's key. Where the remote can compare neither hashes nor modtimes, rclone would keep an edited file of the same
size it finds in today's folder, so there every file not proven identical is uploaded regardless
(`--no-check-dest`).
"""

import dataclasses
import datetime
import os
from pathlib import Path

from tasks import integrity, retention, sealed_folder, selection
from tasks import rclone as rc
from tasks.job import Job, Stop


@dataclasses.dataclass(frozen=True)
class Reference:
    """The newest sealed folder before today, with the sums its SHA256SUMS proves."""

    folder: str
    path: str
    sums: dict[str, str]


@dataclasses.dataclass
class Batch:
    """Files one `rclone copy` takes, and how."""

    paths: list[str] = dataclasses.field(default_factory=list)
    sizes: list[int] = dataclasses.field(default_factory=list)
    bytes: int = 0
    copy_dest: str | None = None   # copy these on the server from this folder
    no_check_dest: bool = False    # upload each, whatever today's folder holds
    list_file: Path | None = None  # the selection's own list, when one batch takes it all

    def add(self, path: str, size: int) -> None:
        self.paths.append(path)
        self.sizes.append(size)
        self.bytes += size


def newest_sealed(backup: str, names, complete: set[str], today: datetime.date) -> str | None:
    """The newest dated folder before today that holds its SHA256SUMS; never today's, never an incomplete one."""
    dated, _ = retention.dated_folders(backup, [name for name in names if name in complete], today)
    earlier = [name for name in dated if dated[name] < today]
    return max(earlier, key=dated.get, default=None)


def reference(job: Job, names: list[str], complete: set[str]) -> Reference | None:
    """The folder to copy unchanged files from, or None (with the reason in the result) when every file is to be
    uploaded: `server_side_copy: off`, a remote that cannot copy on the server, no sealed folder yet, or one whose
    SHA256SUMS this host cannot prove."""
    backup, result = job.backup, job.result
    if backup.server_side_copy == "off":
        result.metrics["server_side_copy"] = "off"
        return None
    try:
        offered = job.rclone.features(backup.rclone_path).copy
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot tell whether {rc.redact(backup.rclone_path)} copies on the server: {error}") \
            from None
    folder = newest_sealed(backup.name, names, complete, job.run.today) if offered else None
    if folder is None:
        result.metrics["server_side_copy"] = "no sealed folder yet" if offered else "not offered by the remote"
        return None
    path = rc.join(backup.rclone_path, folder)
    try:
        exact, tag = sealed_folder.read_seal(job, path)
        unproven = sealed_folder.authenticate(job, folder, exact or b"", tag) if exact else "it is gone"
    except rc.RcloneError as error:
        unproven = f"it cannot be read: {error}"
    except Stop as stop:
        unproven = stop.message
    if unproven:
        result.metrics["server_side_copy"] = "not used"
        result.alert("WARNING", f"{integrity.SUMS_NAME} of {folder} cannot be proven ({unproven}); every file is "
                                "uploaded, none copied on the server from it")
        return None
    sums = integrity.parse(exact.decode("utf-8", "surrogateescape"))
    result.metrics["server_side_copy"] = f"from {folder}"
    return Reference(folder, path, {name: digest for name, digest in sums.items()
                                    if not sealed_folder.malformed(name)})


def batches(listed, source_sums: dict[str, str], earlier: Reference | None, todays_sums: dict[str, str],
            compares_content: bool) -> list[Batch]:
    """The copies that put every listed file into today's folder, without empty ones (pure).

    `listed`: (path, size) of each selected file; `source_sums`: this run's sha256 of each; `earlier`: the sealed
    folder to copy unchanged files from; `todays_sums`: what an earlier run today sealed in today's folder (those
    files are proven there already). On a remote that cannot compare content, nothing else is trusted to be
    there: it is uploaded regardless."""
    proven_today = Batch()
    unchanged = Batch(copy_dest=earlier.path if earlier else None, no_check_dest=not compares_content)
    other = Batch(no_check_dest=not compares_content)
    for path, size in listed:
        digest = source_sums.get(path)
        if digest is not None and todays_sums.get(path) == digest:
            (proven_today if not compares_content else other).add(path, size)
        elif earlier and digest is not None and earlier.sums.get(path) == digest:
            unchanged.add(path, size)
        else:
            other.add(path, size)
    return [batch for batch in (unchanged, other, proven_today) if batch.paths]


def listed_with_sizes(list_file) -> list[tuple[str, int]]:
    """(path, size as the walk saw it) of each line of a selection's list."""
    return [(os.fsdecode(path), walked.size if walked else 0) for path, walked in selection.listed(list_file)]
