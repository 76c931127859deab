"""The checks a backup must pass before it copies: rclone and its remote, the source folder, free space.

A check that finds a problem raises Stop with the alert; a failed check makes its backup skip itself
(tasks.actions.backup reads the checks' results).
"""

import getpass
import os
from pathlib import Path

from tasks import database_source, destinations, restic_engine, results, watchdog
from tasks import rclone as rc
from tasks.config_yaml import PROJECT_ROOT
from tasks.job import Job, Stop
from tasks.kinds import Kind, task_name

GIB = 1024 ** 3

#: The check that proves the source readable: a backup skipped for another check's sake can still say what it
#: would have copied.
SOURCE_CHECK = "check_mounts"


def check_rclone(job: Job) -> None:
    """The binary runs and is recent, its config holds the remote and can store refreshed tokens, the remote answers."""
    backup, rclone, result = job.backup, job.rclone, job.result
    try:
        version, parts = rclone.version()
    except rc.RcloneError as error:
        raise Stop("CRITICAL", f"rclone is missing or broken: {error}. Run the setup again or set "
                               "rclone.binary.") from None
    result.metrics["rclone_version"] = version
    if parts < rc.MINIMUM_VERSION:
        minimum = ".".join(map(str, rc.MINIMUM_VERSION))
        result.alert("WARNING", f"rclone {version} is older than {minimum} and has known upload bugs; "
                                "use the one the setup installs in .venv/bin")
    remote = rc.remote_name(backup.rclone_path)
    if remote is not None:
        _check_remote_configured(job, remote)
    try:
        exists = rclone.probe(backup.rclone_path)
    except rc.RcloneError as error:
        raise Stop("CRITICAL" if error.needs_action else "ERROR", f"destination check failed: {error}") from None
    if not exists and rc.is_local(backup.rclone_path):
        raise Stop("CRITICAL", f"destination folder '{backup.rclone_path}' does not exist: "
                               + (_forgotten_colon(job) or "is its disk mounted? (create it once by hand; the tool "
                                  "does not create it, so that an unmounted disk never fills the system disk)"))
    if backup.engine == "restic":
        restic_engine.check(job)


def _forgotten_colon(job: Job) -> str | None:
    """`rclone_path: ncsftp` (or `ncsftp/offsite`) where `ncsftp` is a configured remote: the colon was forgotten.
    A relative path was made absolute below the project folder, so its first component is looked for there."""
    path = Path(job.backup.rclone_path)
    parts = path.relative_to(PROJECT_ROOT).parts if path.is_relative_to(PROJECT_ROOT) else path.parts[1:]
    try:
        remotes = job.rclone.remotes() if parts else {}
    except rc.RcloneError:
        return None
    if parts and parts[0] in remotes:
        meant = f"{parts[0]}:{'/'.join(parts[1:])}"
        return f"'{parts[0]}' is an rclone remote: did you mean rclone_path: '{meant}' (with the colon)?"
    return None


def _check_remote_configured(job: Job, remote: str) -> None:
    try:
        config_file = job.rclone.config_file()
        remotes = job.rclone.remotes()
    except rc.RcloneError as error:
        raise Stop("ERROR", str(error)) from None
    if not config_file.exists():
        raise Stop("CRITICAL", f"rclone config file '{config_file}' does not exist: create remote '{remote}' "
                               "with `rclone config`, or set rclone.config")
    if remote not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        raise Stop("CRITICAL", f"rclone remote '{remote}' is not defined in '{config_file}' (defined: {known}); "
                               "add it with `rclone config`")
    job.result.metrics["remote_type"] = remotes[remote]
    if not (os.access(config_file, os.W_OK) and os.access(config_file.parent, os.W_OK)):
        job.result.alert("WARNING", f"rclone config '{config_file}' or its folder is not writable by user "
                                    f"{getpass.getuser()}: refreshed login tokens cannot be saved and remote "
                                    f"'{remote}' will stop working when its token expires")


def check_source(job: Job) -> None:
    """The source is a readable, non-empty folder, probed in a child process so a hung mount cannot hang us; or a
    database server that lets its user dump every chosen database (tasks.database_source)."""
    if job.backup.database:
        database_source.check(job)
        return
    source, timeout = job.backup.source_dir, job.run.timeout
    try:
        found = watchdog.run_child("probe", {"source": str(source)}, timeout)
    except watchdog.Stalled:
        raise Stop("CRITICAL", f"source folder '{source}' did not answer within {timeout:g} s: "
                               "hung network mount?") from None
    except RuntimeError as error:
        raise Stop("ERROR", f"source folder '{source}' could not be probed: {error}") from None
    job.result.metrics["mount_point"] = found.get("mount_point")
    messages = {
        "missing": f"source folder '{source}' does not exist: disk not mounted or path moved?",
        "not_a_folder": f"source '{source}' is not a folder",
        "unreadable": f"source folder '{source}' cannot be read: {found.get('error')}",
        "empty": f"source folder '{source}' is empty: the disk is probably not mounted (nothing is copied and "
                 "no old copy is deleted)",
    }
    if found["state"] in messages:
        raise Stop("CRITICAL", messages[found["state"]])


def check_space(job: Job) -> None:
    """The destination reports at least `min_free_gb` free; unknown free space is a warning, not a stop. After a
    failed check_rclone it only says it did not look: the backup is skipped anyway, and a second warning about the
    same cause would only confuse."""
    backup, result = job.backup, job.result
    where = "'" + rc.redact(rc.root_of(backup.rclone_path)) + "'"
    rclone_check = results.read(job.run.results_dir, task_name("check_rclone", backup.name), job.run.run_id)
    if rclone_check is not None and destinations.outcome_at(rclone_check, backup.index)[0] in ("failed", "skipped"):
        result.alert("INFO", "free space not checked: check_rclone failed")
        return
    if backup.min_free_gb == 0:
        result.alert("INFO", f"free space check of {where} is off (min_free_gb: 0)")
        return
    try:
        free = job.rclone.free_bytes(backup.rclone_path)
    except rc.RcloneError as error:
        raise Stop("WARNING", f"free space of {where} is unknown: {error}") from None
    if free is None:
        raise Stop("WARNING", f"{where} does not report its free space; min_free_gb was not checked")
    result.metrics["free_bytes"] = free
    if free < backup.min_free_gb * GIB:
        raise Stop("CRITICAL", f"only {free / GIB:.1f} GiB free on {where}, below min_free_gb "
                               f"{backup.min_free_gb}: backup {backup.name} is skipped; lower `min_free_gb` "
                               f"(global, or for this backup) in {job.run.config_path}, or free space",
                   free_bytes=free, min_free_bytes=int(backup.min_free_gb * GIB))


def at_each_destination(check):
    """`check` of every destination of the backup, each on its own (tasks.destinations), told as one result."""
    def checked(job: Job) -> None:
        fanout = destinations.Fanout(job, parallel=len(job.backup.destinations))  # probes: short, all at once
        fanout.run(check)
        fanout.merge()
    return checked


KINDS = (
    Kind("check_rclone", "rclone runs, its config holds each destination's remote, and each destination answers "
                         "(a restic repository: opens with its password, no lock in the way)",
         at_each_destination(check_rclone), in_full_run=True),
    Kind(SOURCE_CHECK, "each source folder exists, is readable and is not an empty (unmounted) mount point; each "
                       "database server lets its user dump every chosen database",
         check_source, in_full_run=True),
    Kind("check_space", "each destination reports at least min_free_gb free", at_each_destination(check_space),
         in_full_run=True, after=("check_rclone",)),
)
