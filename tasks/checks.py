"""The checks a backup must pass before it copies: rclone and its remote, the source folder, free space.

Each check records alerts on a Result and never raises for a problem it can name; a failed check makes the
backup skip itself (see tasks.backup).
"""

import getpass
import os

from tasks import rclone as rc
from tasks import watchdog
from tasks.config import Backup
from tasks.results import Result

GIB = 1024 ** 3


def check_rclone(backup: Backup, rclone: rc.Rclone, result: Result) -> None:
    """The binary runs and is recent, its config holds the remote and can store refreshed tokens, the remote answers."""
    try:
        version, parts = rclone.version()
    except rc.RcloneError as error:
        result.alert("CRITICAL", f"rclone is missing or broken: {error}. Run the setup again or set rclone.binary.")
        return
    result.metrics["rclone_version"] = version
    if parts < rc.MINIMUM_VERSION:
        minimum = ".".join(map(str, rc.MINIMUM_VERSION))
        result.alert("WARNING", f"rclone {version} is older than {minimum} and has known upload bugs; "
                                "use the one the setup installs in .venv/bin")
    remote = rc.remote_name(backup.rclone_path)
    if remote is not None and not _remote_configured(rclone, remote, result):
        return
    try:
        exists = rclone.probe(backup.rclone_path)
    except rc.RcloneError as error:
        result.alert("CRITICAL" if error.needs_action else "ERROR", f"destination check failed: {error}")
        return
    if not exists and rc.is_local(backup.rclone_path):
        result.alert("CRITICAL", f"destination folder {backup.rclone_path} does not exist: is its disk mounted? "
                              "(create it once by hand; the tool does not create it, so that an unmounted disk "
                              "never fills the system disk)")


def _remote_configured(rclone: rc.Rclone, remote: str, result: Result) -> bool:
    try:
        config_file = rclone.config_file()
        remotes = rclone.remotes()
    except rc.RcloneError as error:
        result.alert("ERROR", str(error))
        return False
    if not config_file.exists():
        result.alert("CRITICAL", f"rclone config file {config_file} does not exist: create remote '{remote}' "
                              "with `rclone config`, or set rclone.config")
        return False
    if remote not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        result.alert("CRITICAL", f"rclone remote '{remote}' is not defined in {config_file} (defined: {known}); "
                              "add it with `rclone config`")
        return False
    result.metrics["remote_type"] = remotes[remote]
    if not (os.access(config_file, os.W_OK) and os.access(config_file.parent, os.W_OK)):
        result.alert("WARNING", f"rclone config {config_file} or its folder is not writable by user "
                                f"{getpass.getuser()}: refreshed login tokens cannot be saved and remote "
                                f"'{remote}' will stop working when its token expires")
    return True


def check_source(backup: Backup, timeout: float, result: Result) -> None:
    """The source is a readable, non-empty folder, probed in a child process so a hung mount cannot hang us."""
    source = backup.source_dir
    try:
        found = watchdog.run_child("probe", {"source": str(source)}, timeout)
    except watchdog.Stalled:
        result.alert("CRITICAL", f"source folder {source} did not answer within {timeout:g} s: hung network mount?")
        return
    except RuntimeError as error:
        result.alert("ERROR", f"source folder {source} could not be probed: {error}")
        return
    result.metrics["mount_point"] = found.get("mount_point")
    messages = {
        "missing": f"source folder {source} does not exist: disk not mounted or path moved?",
        "not_a_folder": f"source {source} is not a folder",
        "unreadable": f"source folder {source} cannot be read: {found.get('error')}",
        "empty": f"source folder {source} is empty: the disk is probably not mounted (nothing is copied and "
                 "no old copy is deleted)",
    }
    if found["state"] in messages:
        result.alert("CRITICAL", messages[found["state"]])


def check_space(backup: Backup, rclone: rc.Rclone, result: Result) -> None:
    """The destination reports at least `min_free_gb` free; unknown free space is a warning, not a stop."""
    where = rc.redact(rc.root_of(backup.rclone_path))
    if backup.min_free_gb == 0:
        result.alert("INFO", f"free space check of {where} is off (min_free_gb: 0)")
        return
    try:
        free = rclone.free_bytes(backup.rclone_path)
    except rc.RcloneError as error:
        result.alert("WARNING", f"free space of {where} is unknown: {error}")
        return
    if free is None:
        result.alert("WARNING", f"{where} does not report its free space; min_free_gb was not checked")
        return
    result.metrics["free_bytes"] = free
    if free < backup.min_free_gb * GIB:
        result.alert("CRITICAL", f"only {free / GIB:.1f} GiB free on {where}, below min_free_gb "
                                 f"{backup.min_free_gb}: backup {backup.name} is skipped",
                     free_bytes=free, min_free_bytes=int(backup.min_free_gb * GIB))
