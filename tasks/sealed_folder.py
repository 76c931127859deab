"""Choosing and reading a sealed dated folder (or an archive) without trusting the destination.

SHA256SUMS is read byte for byte and must match its SHA256SUMS.hmac under this host's key (tasks.host_key); a
folder without one (sealed before host keys, on another host, or on a host that lost its key) is used with a
warning. Its entries must be plain paths inside the folder; only the files it lists count, a listed file the
destination lacks is missing, and any other file there is named and left alone.
"""

import dataclasses
import datetime
import tempfile
from pathlib import Path

from tasks import destinations, host_key, host_marker, integrity, retention
from tasks import rclone as rc
from tasks.job import Job, Stop

SEAL_NAMES = (integrity.SUMS_NAME, integrity.HMAC_NAME)
NAMED_AT_MOST = 20


def read_seal(job: Job, folder_path: str) -> tuple[bytes | None, bytes | None]:
    """The exact bytes of the SHA256SUMS and SHA256SUMS.hmac of a remote folder (None: absent). SHA256SUMS is
    downloaded, not read with `rclone cat`, whose text loses names that are not UTF-8: the authentication covers
    the bytes."""
    tag = job.rclone.read_text(rc.join(folder_path, integrity.HMAC_NAME))
    with tempfile.TemporaryDirectory(prefix="backup-seal-") as scratch:
        wanted, into = Path(scratch) / "files", Path(scratch) / "seal"
        wanted.write_text(f"{integrity.SUMS_NAME}\n")
        job.rclone.download(folder_path, into, file_list=wanted)
        try:
            sums = (into / integrity.SUMS_NAME).read_bytes()
        except FileNotFoundError:
            sums = None
    return sums, None if tag is None else tag.encode("utf-8", "surrogateescape")


def authenticate(job: Job, folder: str, sums: bytes, tag: bytes | None) -> str | None:
    """None when this host's key proves `sums` (exact bytes of the SHA256SUMS of `folder`) against `tag`; else why
    it cannot be proven, for a warning. A tag that this host's key does not reproduce stops the step."""
    if tag is None:
        return f"no {integrity.HMAC_NAME}: sealed before host keys were introduced, or on another host"
    try:
        key = host_key.load(job.run.state_dir)
    except host_key.HostKeyError as error:
        raise Stop("ERROR", f"cannot check the authentication of {integrity.SUMS_NAME} of {folder}: {error}") \
            from None
    where = host_key.path(job.run.state_dir)
    if key is None:
        return f"this host has no key ({where}): a new or reinstalled host? Put the old key back to check it"
    if not host_key.matches(key, sums, tag):
        raise Stop("ERROR", f"{integrity.SUMS_NAME} of {folder} does not match its authentication (tampered, or "
                            f"sealed by another host's key). Find out who changed it; if this host's key was "
                            f"replaced, put the old {where} back (or move it aside to use the folder unproven)")
    return None


def read_sums(job: Job, folder: str, folder_path: str) -> tuple[bytes, dict[str, str], bool]:
    """The folder's SHA256SUMS: its exact bytes, its entries, and whether it is authenticated (warned if not).
    Stops when it is missing or empty, does not match its SHA256SUMS.hmac, or names a path that is not a plain
    path inside the folder."""
    exact, tag = read_seal(job, folder_path)
    sums = integrity.parse((exact or b"").decode("utf-8", "surrogateescape"))
    if not sums:
        raise Stop("ERROR", f"{integrity.SUMS_NAME} of {rc.redact(folder_path)} is missing or empty")
    unproven = authenticate(job, folder, exact, tag)
    if unproven:
        job.result.alert("WARNING", f"{integrity.SUMS_NAME} of {folder} is not authenticated ({unproven}); its "
                                    "list is used as found")
    require_plain_paths(sums, folder)
    return exact, sums, unproven is None


def require_plain_paths(sums: dict[str, str], folder: str, sums_name: str = integrity.SUMS_NAME) -> None:
    """Stop when a checksum file names a path that is not a plain path inside its folder."""
    bad = [f"{shown(path)} ({why})" for path in sorted(sums) if (why := malformed(path))]
    if bad:
        raise Stop("ERROR", f"{sums_name} of {folder} is malformed: {len(bad)} entries are not plain "
                            f"paths inside the folder: {names(bad, already_shown=True)}. This tool never writes "
                            "such entries: find out who changed the file", malformed=len(bad))


def malformed(path: str) -> str | None:
    """Why a SHA256SUMS entry is not a plain relative path inside its folder, or None when it is one."""
    parts = path.split("/")
    reasons = (("\0" in path, "contains a NUL"), (path.startswith("/"), "absolute path"),
               ("" in parts, "empty path component"), (".." in parts, "'..' component"),
               ("." in parts, "'.' component"), (path in SEAL_NAMES, "the seal's own name"))
    return next((why for found, why in reasons if found), None)


def at_destination(job: Job, folder: str, folder_path: str, sums: dict[str, str], not_done: str,
                   sums_name: str = integrity.SUMS_NAME) -> tuple[dict[str, int], list[str]]:
    """What the destination holds of `sums`: {entry: size} of the listed files present, and the listed files
    missing. Any other file in the folder is reported by name (WARNING) and left alone (`not_done`)."""
    present = dict(job.rclone.list_files(folder_path))
    found, missing = {}, []
    for path in sorted(sums):
        size = present.get(_as_listed(path))
        if size is None:
            missing.append(path)
        else:
            found[path] = size
    listed = {_as_listed(path) for path in sums}
    unlisted = sorted(name for name in present if name not in listed and not _tool_file(name))
    if unlisted:
        job.result.alert("WARNING", f"{len(unlisted)} files in {folder} are not in {sums_name}, "
                                    f"{not_done}: {names(unlisted)}. This tool did not seal them: find out who "
                                    "put them there", unlisted=len(unlisted))
    return found, missing


def _tool_file(name: str) -> bool:
    """A file this tool writes itself: a seal, an archive's manifest, a host marker (tasks.host_marker)."""
    return name in (*SEAL_NAMES, integrity.ARCHIVE_NAME) or ("/" not in name and host_marker.SEPARATOR in name)


def _as_listed(path: str) -> str:
    """A SHA256SUMS entry as rclone lists it: bytes that are not UTF-8 come back as U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def shown(name: str) -> str:
    """A name from the destination, safe to print: quoted when it holds line breaks, control characters or
    bytes that are not UTF-8."""
    return name if name.isprintable() else repr(name)


def names(found: list[str], already_shown: bool = False) -> str:
    """The first names of a list, safe to print, and how many more there are."""
    first = found[:NAMED_AT_MOST] if already_shown else [shown(name) for name in found[:NAMED_AT_MOST]]
    return rc.first_names(first, total=len(found))


def trust(authentic: bool) -> str:
    return "authenticated by this host's key" if authentic else "not authenticated"


SHOWN_DATES = 5  # complete dates named when `date=` finds no folder


def choose_folder(job: Job) -> str:
    """`<name>_<date=>` if the command line gives a date, else the newest complete folder. It must be sealed.
    A date in another format, or one without a complete folder, is refused with the dates that do exist, so the
    next try can succeed."""
    backup, rclone = job.backup, job.rclone
    where = rc.redact(backup.rclone_path)
    present, sealed, _ = rclone.folders(backup.rclone_path, integrity.SUMS_NAME)
    dated, _ = retention.dated_folders(backup.name, sealed, job.run.today)
    newest = sorted(dated, key=dated.get, reverse=True)
    existing = _dates_that_exist(backup.name, [dated[name] for name in newest], where)
    if job.run.day:
        if not _is_date(job.run.day):
            raise Stop("ERROR", f"date={job.run.day} is not a date: give it as YYYY-MM-DD, e.g. "
                                f"date={job.run.today.isoformat()}{existing}")
        folder = f"{backup.name}_{job.run.day}"
        if folder not in sealed:
            raise Stop("ERROR", f"{folder} at {where} "
                                + ("has no SHA256SUMS: its copy never completed" if folder in present
                                   else "does not exist")
                                + existing)
        return folder
    if not newest:
        raise Stop("ERROR", f"no complete folder of {backup.name} at {where}")
    return newest[0]


@dataclasses.dataclass(frozen=True)
class Sealed:
    """What verify, restore and a drill work on: a sealed dated folder, or an archive."""

    folder: str             # its name in messages
    path: str               # where it is
    sums_name: str          # its checksum file
    exact: bytes            # that file's bytes
    sums: dict[str, str]    # its entries
    authentic: bool         # proven by this host's key


def sealed(job: Job) -> Sealed:
    """The dated folder `choose_folder` picks, or the whole archive."""
    if job.run.snapshot:
        raise Stop("ERROR", f"snapshot= is for backups with `engine: restic`; {job.backup.name} has dated folders "
                            "(or an archive): give date=YYYY-MM-DD")
    if job.backup.mode == "archive":
        return _archive(job)
    folder = choose_folder(job)
    path = rc.join(job.backup.rclone_path, folder)
    exact, sums, authentic = read_sums(job, folder, path)
    return Sealed(folder, path, integrity.SUMS_NAME, exact, sums, authentic)


def _archive(job: Job) -> Sealed:
    where = rc.redact(job.backup.rclone_path)
    if job.run.day:
        raise Stop("ERROR", f"{job.backup.name} is an archive: it has no dated folders, leave out date=")
    text = job.rclone.read_text(rc.join(job.backup.rclone_path, integrity.ARCHIVE_NAME))
    sums = integrity.parse(text or "")
    if not sums:
        raise Stop("ERROR", f"{integrity.ARCHIVE_NAME} at {where} is missing or empty: nothing archived there yet")
    require_plain_paths(sums, f"the archive at {where}", integrity.ARCHIVE_NAME)
    return Sealed(f"the archive at {where}", job.backup.rclone_path, integrity.ARCHIVE_NAME,
                  text.encode("utf-8", "surrogateescape"), sums, authentic=False)


def at_chosen_destination(work):
    """`work` on the destination `dest=` names (tasks.destinations.pick), the first when not given."""
    def at_destination(job: Job) -> None:
        chosen = dataclasses.replace(job, backup=destinations.pick(job.backup, job.run.destination))
        job.result.metrics["destination_index"] = chosen.backup.index  # whose verify or drill, for `doit status`
        try:
            work(chosen)
        finally:
            job.consequence = chosen.consequence
    at_destination.__doc__ = work.__doc__
    return at_destination


def _dates_that_exist(backup: str, newest_first: list[datetime.date], where: str) -> str:
    if not newest_first:
        return f"; {backup} has no complete folder at {where}"
    older = len(newest_first) - SHOWN_DATES
    return (f"; complete folders of {backup}: " + ", ".join(day.isoformat() for day in newest_first[:SHOWN_DATES])
            + (f" and {older} older" if older > 0 else ""))


def _is_date(text: str) -> bool:
    """Exactly YYYY-MM-DD and a real day (fromisoformat alone also takes `20261120` and week dates)."""
    try:
        return len(text) == 10 and datetime.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False
