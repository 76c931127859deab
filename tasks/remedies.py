"""What goes wrong, how to recognise it in an alert, what you receive and what to do: one table, the source of the
README's "What happens when..." table (scripts/config_docs.py writes it) and of the "What to do" under an alert.

Declared once so the advice in a 05:00 mail and the README cannot drift apart. A row is recognised by a regular
expression on the alert's message (the messages are the tool's own, stable words); a row without one (a case that
leaves no alert) is documentation only. The first matching row wins, so a specific cause precedes a general one.
"""

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Remedy:
    case: str              # what happened, in the operator's words
    marker: str | None     # regular expression found in the alert's message; None: the case leaves no alert
    receive: str           # what you receive (Markdown)
    action: str            # what to do (Markdown; backticks mark what to type or edit)


REMEDIES = (
    Remedy("source folder missing (disk unplugged, path moved)", r"source folder .* does not exist",
           "CRITICAL `check_mounts:NAME: source folder … does not exist: disk not mounted or path moved?`; "
           "backup SKIPPED", "mount the disk, or fix `source_dir` in the config"),
    Remedy("mount point present but empty", r"source folder .* is empty",
           "CRITICAL `… is empty: the disk is probably not mounted`", "mount the disk"),
    Remedy("source hangs (dead Samba/NFS server)", r"did not answer within|stopped answering while",
           "CRITICAL `… did not answer within N s: hung network mount?` after `check_timeout_seconds`; if it hangs "
           "later, the walk, hashing or copy is stopped after `stall_timeout_seconds` without progress",
           "check the server; `umount -l` the share"),
    Remedy("files vanish, shrink or grow during the copy",
           r"rclone accounted for \d+ of|changed or vanished during the copy|being updated|changed while being hashed",
           "ERROR naming the count or the files (`rclone accounted for 2 of the 3 selected files`, `source file is "
           "being updated`, `changed while being hashed`), \"Old copies are kept\"; today's folder stays unsealed",
           "nothing, if the primary backup was writing; the next run copies the settled files"),
    Remedy("a source file is unreadable (permissions)", r"(?i)permission denied",
           "ERROR naming the file and `permission denied`. The rest of the backup is still copied (so you have as "
           "much as possible), but the folder is not sealed and nothing is pruned",
           "fix the permissions (the job's user must read everything)"),
    Remedy("destination server down", r"cannot be reached|no answer within",
           "ERROR `check_rclone:NAME: destination check failed: … cannot be reached` or `no answer within N s`; "
           "backup SKIPPED", "check the server / network"),
    Remedy("free space below `min_free_gb`", r"GiB free on .*, below min_free_gb",
           "CRITICAL `only X GiB free on …, below min_free_gb N`; backup SKIPPED",
           "free space or raise the quota (or lower `min_free_gb`)"),
    Remedy("destination fills up during the upload", r"the destination is full",
           "CRITICAL `copy to … failed: the destination is full`", "free space; lower `max_size_mb` or `retention`"),
    Remedy("wrong password / keys", r"login refused",
           "CRITICAL `login refused: check this remote's user and password or keys with rclone config`",
           "`rclone config`"),
    Remedy("expired OAuth token", r"login token has expired",
           "CRITICAL `the remote's login token has expired or was revoked; renew it on this server with rclone "
           "config reconnect REMOTE:`",
           "run that `rclone config reconnect REMOTE:` command (see \"rclone on a server without a browser\")"),
    Remedy("server dies mid-upload", r"copy to .* failed",
           "ERROR `copy to … failed`; folder unsealed; rclone's `*.partial` leftovers are deleted by the next run",
           "nothing; the next run completes it"),
    Remedy("rclone config or its folder read-only", r"refreshed login tokens cannot be saved",
           "WARNING `… not writable by user U: refreshed login tokens cannot be saved` (exit 0: today's backup "
           "works). A read-only folder also slows rclone down as it retries saving settings",
           "`chown`/`chmod` the config and its folder for the job's user"),
    Remedy("rclone missing", r"rclone is missing or broken",
           "CRITICAL `rclone is missing or broken` naming the binary",
           "rerun `scripts/setup.sh` or fix `rclone.binary`"),
    Remedy("rclone too old (< 1.65.1)", r"is older than \S+ and has known upload bugs",
           "WARNING `rclone v1.60.1 is older than 1.65.1 and has known upload bugs` (exit 0)",
           "use `.venv/bin/rclone`"),
    Remedy("rclone remote not defined", r"rclone remote '.*' is not defined",
           "CRITICAL `rclone remote 'NAME' is not defined in FILE (defined: …)`; backup SKIPPED",
           "add the remote with `rclone config`, or fix `rclone_path`"),
    Remedy("selection larger than `max_size_mb` or `max_files`", r"exceed max_size_mb|more than max_files",
           "ERROR `N files totalling X exceed max_size_mb M` (or `more than max_files`); nothing copied",
           "find out why the source grew; raise `max_size_mb`/`max_files` or add `exclude` patterns"),
    Remedy("no file newer than `days`", r"nothing newer than \d+ days",
           "WARNING `nothing newer than N days in …; newest file is from DATE (has the primary backup stopped?)`",
           "check that the primary backup still runs"),
    Remedy("invalid config (any of: wrong types, missing or unknown keys, a key given twice, duplicate names, bad "
           "remote, negative sizes, non-UTF-8, empty, YAML syntax, secrets file readable by others)",
           r"invalid config, nothing was done",
           "CRITICAL `invalid config, nothing was done` with each problem and its path, exit 1; also by "
           "mail/Pushover when those settings are sound. Restore, verify and drill still work for the backups the "
           "problems do not touch", "fix what it names"),
    Remedy("two runs at once", r"another backup run is still going",
           "the second exits at once: `another backup run is still going (pid …)`, exit 2, touches nothing",
           "nothing"),
    Remedy("run killed (SIGKILL) mid-copy", None,
           "rclone dies with it; the lock is freed by the kernel; today's folder stays unsealed",
           "nothing; the next run completes it"),
    Remedy("folder dated in the future, `NAME_2026-13-45`, other backups' folders",
           r"left alone, dated in the future or not a real date",
           "WARNING `left alone, dated in the future or not a real date` (exit 0); none is deleted",
           "look at the clock and the folders"),
    Remedy("odd names (spaces, leading/trailing spaces, `#`, unicode, non-UTF-8 bytes, long paths)", None,
           "copied (counted and verified)", "nothing"),
    Remedy("a name with a line break or another control character (rclone's file list cannot carry them)",
           r"name contains",
           "ERROR naming it, escaped (`\\x1b`); the rest copied, not sealed", "rename the file"),
    Remedy("a listed source file swapped after the walk (a symbolic link, a FIFO, a bigger or another file)",
           r"changed since it was listed",
           "ERROR naming it: `changed since it was listed`; copy capped at the selected size; not sealed, nothing "
           "pruned", "find out who changed it; the next run copies the settled file"),
    Remedy("a tampered dated folder at the destination (a planted file, a changed SHA256SUMS)",
           r"does not match its authentication",
           "restore, verify and drill: ERROR `does not match its authentication`, nothing restored; a planted file "
           "not in SHA256SUMS is named and never restored", "find out who changed it"),
    Remedy("a file of the newest sealed folder rotted or was changed at the destination", r"did not match the "
           r"source and were uploaded again",
           "WARNING naming the files and the folder; they are uploaded again, today's folder is sealed as usual",
           "check that folder: `doit run verify:NAME date=…`"),
    Remedy("a remote that claims server-side copy but uploads instead, or fails it", r"offers server-side copy but",
           "WARNING once per run; every file is uploaded there for the rest of the run", "nothing, or "
           "`server_side_copy: off` for that backup"),
    Remedy("the state folder (the config's folder) is read-only, e.g. missing from systemd's ReadWritePaths=",
           r"cannot open the lock file",
           "`cannot open the lock file …: Read-only file system; this run did nothing`, exit 2",
           "make it writable (under systemd: add it to `ReadWritePaths=`)"),
    Remedy("two hosts write the same backup (or archive) to one rclone_path", r"is also written by host",
           "CRITICAL `… is also written by host OTHER (NAME.host-OTHER there)`; nothing copied or pruned at that "
           "destination, the others go on", "give each host its own `rclone_path`; if this host replaced the other, "
           "delete the other's marker file there"),
    Remedy("one of several destinations fails", None,
           "the backup FAILED with `2 of 3 destinations ok`, a line per destination and the failed one's alert "
           "(`at box2:offsite: …`); the others are sealed and pruned as usual",
           "fix what the failed destination's alert names"),
    Remedy("an archived copy does not match its sha256 (a failed upload, a rotted file)",
           r"did not match their sha256|no longer match their sha256|does not match its ARCHIVE-SHA256SUMS",
           "ERROR naming the files; a failed upload is not listed in ARCHIVE-SHA256SUMS; no source file is "
           "deleted", "rerun (a failed upload is tried again); for a rotted archived file, check the "
           "destination and restore it from another destination"),
    Remedy("archived source files cannot be deleted (read-only mount)", r"is read-only, so the",
           "WARNING `source folder … is read-only, so the N archived files stay there`; the archive is complete",
           "mount the source writable, or turn `delete_source_after_archive` off"),
    Remedy("a destination of an archive failed", r"no source file deleted",
           "WARNING `no source file deleted: the archive at … was not proven in this run`; every source file is kept",
           "fix that destination; the next run proves every copy again and then deletes"),
    Remedy("a database server that refuses the dump user or does not answer",
           r"database server at .*(Access denied|Can't connect|did not answer)",
           "CRITICAL `check_mounts:NAME: the database server at …: Access denied …` (or `Can't connect …`); "
           "backup SKIPPED", "start the server, or fix the user and its password secret (see Databases)"),
    Remedy("a database that is gone, or a dump that fails", r"does not exist on the database server|the dump of "
           r"database .* failed", "ERROR naming the database and the server's own words; nothing copied or pruned",
           "fix `database.databases`, or what the server says"),
    Remedy("no restic repository at the destination", r"no restic repository at",
           "CRITICAL `no restic repository at …: create it`; backup SKIPPED", "`restic init` there, or "
           "`restic.init: true` for that backup"),
    Remedy("wrong restic password", r"wrong password or no key found",
           "CRITICAL `restic repository …: wrong password or no key found`; backup SKIPPED",
           "put the repository's password in the secret `restic.password_secret` names"),
    Remedy("restic check finds damage", r"restic check .* found a problem|restic check --read-data of",
           "ERROR naming restic's words; the new snapshot is kept", "run `restic check --read-data` there and "
           "follow restic's docs on a damaged repository (`restic rebuild-index`, then `restic prune`), or start a "
           "new repository"),
    Remedy("log folder not writable, or its disk full", r"cannot (open|write) the log file",
           "`ERROR: cannot open/write the log file …` on stderr; the summary still printed; exit 1",
           "fix the log folder"),
)

_MARKERS = [(re.compile(remedy.marker), remedy) for remedy in REMEDIES if remedy.marker]


def for_message(message: str) -> Remedy | None:
    """The row whose marker the message holds, the first in table order; None for a cause the table lacks."""
    return next((remedy for marker, remedy in _MARKERS if marker.search(message)), None)


def advice(message: str) -> str:
    """What to do about the alert with this message, as plain text ("" when its cause is not known)."""
    remedy = for_message(message)
    return remedy.action.replace("`", "") if remedy else ""


def markdown_table() -> str:
    """The README's table: one row per case."""
    rows = [["case", "what you receive", "what to do"], ["---"] * 3]
    rows += [[remedy.case, remedy.receive, remedy.action] for remedy in REMEDIES]
    return "\n".join(f"| {' | '.join(cell.replace('|', '\\|') for cell in cells)} |" for cells in rows)
