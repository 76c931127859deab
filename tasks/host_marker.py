"""Several hosts, one remote: a backup's destination says which host writes it, so two hosts never prune (or
archive over) each other's copies.

Beside its dated folders, each backup keeps a small file `<name>.host-<host name>` at its rclone_path, written on
its first run there. A run that finds the same backup name marked by another host stops before it copies or prunes
anything (CRITICAL): two hosts with a backup `web` writing to the same rclone_path would each count the other's
folders as their own and prune them. An archive also refuses a path any other host archives into, whatever its
backup name: they would share one ARCHIVE-SHA256SUMS. The check costs nothing: the listing every run makes shows
the markers.
"""

import socket

from tasks import rclone as rc
from tasks.job import Job, Stop

SEPARATOR = ".host-"


def name_for(backup: str, host: str) -> str:
    return f"{backup}{SEPARATOR}{host}"


def claim(job: Job, top_files: set[str], whole_path: bool = False) -> None:
    """Stop when another host marks this backup (or, `whole_path`, anything) at the destination; else mark it as
    this host's when it is not yet (never on a dry run)."""
    host, backup = socket.gethostname(), job.backup.name
    mine = name_for(backup, host)
    others = sorted(name for name in top_files if SEPARATOR in name and name != mine
                    and (whole_path or name.startswith(backup + SEPARATOR)))
    where = rc.redact(job.backup.rclone_path)
    if others:
        theirs = others[0].rpartition(SEPARATOR)[2]
        raise Stop("CRITICAL", f"{where} is also written by host {theirs} ({others[0]} there): two hosts writing "
                               f"{'into one archive' if whole_path else f'backup {backup} to one rclone_path'} would "
                               "prune or overwrite each other's copies. Give each host its own rclone_path; if this "
                               f"host replaced {theirs}, delete {others[0]} at {where}")
    if mine in top_files or job.run.dry_run:
        return
    marker = job.destination_file("host-marker")
    marker.write_text(f"backup {backup} at this path is written by host {host} (first run {job.run.today})\n",
                      encoding="utf-8")
    try:
        job.rclone.upload(marker, rc.join(job.backup.rclone_path, mine))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot mark {where} as written by this host: {error}") from None
