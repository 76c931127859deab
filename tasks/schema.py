"""The configuration schema: the single source of truth for keys, types, defaults, rules and their meaning.

`tasks.config` validates against it; `scripts/config_docs.py` generates `var/config.example.yaml` and the
README's configuration tables from it, and a test fails while they differ.
"""

import re

from tasks import channels
from tasks.keys import key

#: Backup names become folder names (`<name>_YYYY-MM-DD`) and doit task names: keep them plain.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"

#: The name of a secret (an environment variable, a line of the secrets file, a keyring entry).
SECRET_NAME_PATTERN = r"[A-Z][A-Z0-9_]*"

#: rclone flags the tool must control itself, and why: filters would make the frozen file list no longer the only
#: selection (the size check and the file count would not describe the copy); output flags would hide the JSON log
#: and the statistics the tool reads.
REFUSED_FLAGS = {
    **dict.fromkeys(("--exclude", "--exclude-from", "--include", "--include-from", "--filter", "--filter-from",
                     "--files-from", "--files-from-raw", "--max-age", "--min-age", "--max-size", "--min-size",
                     "--max-depth"), "changes which files are copied; use the backup's `exclude` list"),
    **dict.fromkeys(("--stats", "--stats-log-level", "--use-json-log", "--log-file", "--log-level", "--quiet",
                     "-q", "--verbose", "-v", "-vv", "--progress", "-P", "--config"),
                    "changes the output the tool reads (or, for --config, use rclone.config)"),
}

#: user@domain, or user@host for a local mailbox (root@localhost, as cron mails): no empty label in the host.
EMAIL_PATTERN = r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)*"

RCLONE_SCHEMA = {
    "binary": key("string", "rclone program to run; absent: the one installed in the project's virtualenv, "
                            "else `rclone` on PATH.", empty=False),
    "config": key("string", "rclone config file; absent: rclone's own choice (which honours RCLONE_CONFIG).",
                  empty=False),
    "flags": key("list", "Extra rclone flags for copies; flags that change which files are copied or the output "
                         "the tool reads (`--exclude`, `--max-age`, `--log-file` …) are refused.",
                 example=["--bwlimit", "8M", "--transfers", "4"],
                 schema={"type": "string"}, check_with="rclone_flags"),
}

KEYRING_SCHEMA = {
    "file": key("string", "The keyrings.cryptfile keyring; relative paths are relative to the project folder.",
                default="var/keyring.cfg", empty=False),
    "password_file": key("string", "File holding the keyring's master password (chmod 600); absent: "
                                   "$KEYRING_CRYPTFILE_PASSWORD.", example="/etc/offsite-backup/keyring-pass",
                         empty=False),
}

#: Schemas that are the server's own, not data: left out unless `databases` names them.
SYSTEM_SCHEMAS = ["information_schema", "performance_schema", "sys", "mysql"]

DATABASE_SCHEMA = {
    "engine": key("string", "The server: MariaDB or MySQL (dumped with `mariadb-dump`, else `mysqldump`).",
                  default="mariadb", allowed=["mariadb"]),
    "socket": key("string", "The server's unix socket; absent: `host` and `port`.",
                  example="/run/mysqld/mysqld.sock", empty=False),
    "host": key("string", "The server's address when there is no `socket` (reached over TCP, also `localhost`).",
                default="localhost", empty=False),
    "port": key("integer", "The server's port when there is no `socket`.", default=3306, min=1, max=65535),
    "user": key("string", "The dump user (least privilege: see the README).", example="backup", required=True,
                empty=False),
    "password_secret": key("string", "Name of the secret holding the dump user's password (environment, "
                                     "`secrets_file` or keyring; never in this file, never on a command line).",
                           default="MARIADB_PASSWORD", regex=SECRET_NAME_PATTERN),
    "databases": key("list", "Databases to dump; `[]`: every database but `exclude_databases`.",
                     example=["shop", "wiki"], default=[], schema={"type": "string", "empty": False}),
    "exclude_databases": key("list", "Left out when `databases` is `[]`: the server's own schemas, by default.",
                             default=SYSTEM_SCHEMAS, schema={"type": "string", "empty": False}),
    "compression": key("string", "Each dump streamed through `gzip` or `zstd` into `<database>.sql.gz` / "
                                 "`.sql.zst`.", default="gzip", allowed=["gzip", "zstd"]),
    "dump_binary": key("string", "The dump tool; absent: `mariadb-dump`, else `mysqldump` on PATH.", empty=False),
    "client_binary": key("string", "The client; absent: `mariadb`, else `mysql` on PATH.", empty=False),
    "staging_dir": key("string", "Folder the dumps are written to before they are copied (`<staging_dir>/<name>`, "
                                 "emptied after each run); relative: to the project folder.",
                       default="var/staging", empty=False),
}

RESTIC_SCHEMA = {
    "binary": key("string", "The restic program; absent: `restic` on PATH (Debian: apt install restic).",
                  empty=False),
    "password_secret": key("string", "Name of the secret holding the repository's password (environment, "
                                     "`secrets_file` or keyring).", default="RESTIC_PASSWORD",
                           regex=SECRET_NAME_PATTERN),
    "init": key("boolean", "Create the repository when it does not exist; false: a missing repository is a "
                           "CRITICAL alert, never created silently.", default=False),
    "read_data_subset": key("string", "Share of the data `restic check` reads after each run (`n/t`, `x%` or a "
                                      "size): `1/30` reads it all once a month, in turn; `0`: structure only.",
                            default="5%", empty=False),
    "stale_lock_hours": key("number", "A lock older than this whose host is this one and whose process is gone is "
                                      "removed; any other lock is reported.", default=24, min=0.5),
}

BACKUP_SCHEMA = {
    "name": key("string", "Unique name (ignoring case); the copy goes into `<rclone_path>/<name>_YYYY-MM-DD`. "
                          "Letters, digits, `.`, `_`, `-`; at most 64 characters.",
                example="contabo1", required=True, regex=NAME_PATTERN),
    "source_dir": key("string", "Folder to copy, read recursively (a USB disk or Samba mount); relative paths are "
                                "relative to the project folder. Required unless `database` is given.",
                      example="/mnt/usb1/backups/contabo1", empty=False),
    "database": key("dict", "Dump a database server instead of copying a folder: each database dumped "
                            "consistently, compressed, then copied, verified, sealed and pruned like files.",
                    schema=DATABASE_SCHEMA, instead_of="source_dir",
                    example={"socket": "/run/mysqld/mysqld.sock", "user": "backup", "databases": ["shop"]}),
    "rclone_path": key("string", "Destination: `remote:path` of a configured rclone remote, "
                                 "`:backend,option=value:path`, or a local folder that must already exist. "
                                 "Required unless `destinations` is given.",
                       example="onedrive:offsite", empty=False, check_with="rclone_path"),
    "destinations": key("list", "Several destinations instead of `rclone_path`: each item has its `rclone_path` "
                                "and may set its own `min_free_gb`, `verify`, `server_side_copy`, `rclone` and "
                                "retention keys (absent: the backup's). The source is selected and hashed once; "
                                "each destination is checked, copied, verified, sealed and pruned on its own.",
                        example=[{"rclone_path": "onedrive:offsite"},
                                 {"rclone_path": "storagebox:offsite", "min_free_gb": 20, "retention": 7}],
                        minlength=1,
                        schema={"type": "dict"}, instead_of="rclone_path"),  # items: DESTINATION_SCHEMA
    "engine": key("string", "`copy`: files copied into dated folders (or an archive); `restic`: deduplicated, "
                            "encrypted snapshots in a restic repository at each destination (`rclone:` for "
                            "remotes), with the same checks, retention keys and alerts.",
                  default="copy", allowed=["copy", "restic"]),
    "restic": key("dict", "restic settings for `engine: restic`.", default={}, schema=RESTIC_SCHEMA,
                  example={"init": True, "read_data_subset": "1/30"}),
    "mode": key("string", "`dated`: each run copies into a new `<name>_YYYY-MM-DD` folder, pruned by retention; "
                          "`archive`: cold storage, each file copied once into `<rclone_path>/<its path>`, proven by "
                          "sha256 and listed in ARCHIVE-SHA256SUMS there, never deleted by the tool.",
                default="dated", allowed=["dated", "archive"]),
    "delete_source_after_archive": key("boolean", "With `mode: archive`: delete each source file once its copy on "
                                                  "every destination was proven by sha256 in this run (never on a "
                                                  "dry run or when any destination failed).", default=False),
    "max_size_mb": key("number", "Refuse the copy (ERROR alert) when the selected files total more than this many "
                                 "MiB (1 MiB = 1,048,576 bytes).", default=1024, min=1),
    "max_files": key("integer", "Refuse the copy (ERROR alert) when more than this many files are selected; "
                                "0: no limit.", default=0, min=0),
    "days": key("integer", "Copy only files modified in the last `days` × 24 hours; 0, empty or absent: all files.",
                example=1, default=0, min=0, nullable=True),
    "retention": key("integer", "Keep this many newest dated folders.", default=2, min=1),
    "retention_days": key("integer", "Also keep the newest folder of each of the last N days that have one; "
                                     "0: none.", default=0, min=0),
    "retention_weeks": key("integer", "Also keep the newest folder of each of the last N ISO weeks that have one; "
                                      "0: none.", example=4, default=0, min=0),
    "retention_months": key("integer", "Also keep the newest folder of each of the last N months that have one; "
                                       "0: none.", example=6, default=0, min=0),
    "min_free_gb": key("number", "Free GiB this destination must report; absent: the global `min_free_gb`.",
                       example=50, min=0),
    "exclude": key("list", "Glob patterns of files to leave out, matched against the path below `source_dir` "
                           "(`*` also crosses `/`) and against the bare file name.",
                   example=["*.tmp", "cache/*"], default=[], schema={"type": "string", "empty": False}),
    "exclude_if_present": key("list", "Leave out every folder that holds a file of one of these names, with all "
                                      "below it (as borg and restic call it); each run names the folders it left "
                                      "out. `[]`: none.", default=[".nobackup"],
                              schema={"type": "string", "empty": False, "check_with": "marker_name"}),
    "verify": key("string", "After each copy: check every file by the remote's sha256, md5 or sha1 against this "
                            "run's own sums of the source, else against the source by a hash they share, else by "
                            "size (`checksum`); read every copied file back (`download`); or not at all (`off`).",
                  default="checksum", allowed=["checksum", "download", "off"]),
    "server_side_copy": key("string", "Copy each file whose sha256 matches the newest sealed folder's SHA256SUMS "
                                      "on the server from there instead of uploading it, where the remote can "
                                      "(`auto`; S3, OneDrive, Google Drive, B2, most WebDAV); upload every file "
                                      "(`off`).", default="auto", allowed=["auto", "off"]),
    "max_age_days": key("integer", "A full run raises CRITICAL when the newest complete copy at a destination is "
                                   "older than this many days (even when that backup failed or was skipped), and "
                                   "`doit status` shows STALE.", default=2, min=1),
    "drill_every_days": key("integer", "Every N days, download a random sample of the newest complete folder and "
                                       "check it against its SHA256SUMS (restore drill); 0: never.",
                            example=7, default=0, min=0),
    "drill_files": key("integer", "At most this many files in a restore drill.", default=5, min=1),
    "drill_max_mb": key("number", "At most this many MiB downloaded by a restore drill.", default=100, min=1),
    "rclone": key("dict", "rclone settings for this backup only: its `binary` and `config` replace the global "
                          "ones, its `flags` come after the global flags.",
                  example={"flags": ["--onedrive-chunk-size", "10M"]}, default={}, schema=RCLONE_SCHEMA),
}

#: The keys a destination may set for itself; absent, it has the backup's.
DESTINATION_KEYS = ("rclone_path", "min_free_gb", "verify", "server_side_copy", "retention", "retention_days",
                    "retention_weeks", "retention_months", "rclone")


def _own(rules: dict) -> dict:
    """A backup key's rules for a destination item: no default (absent means the backup's value)."""
    return {name: value for name, value in rules.items() if name != "default"}


DESTINATION_SCHEMA = {name: _own(BACKUP_SCHEMA[name]) for name in DESTINATION_KEYS}
DESTINATION_SCHEMA["rclone_path"] = {**DESTINATION_SCHEMA["rclone_path"], "required": True}
BACKUP_SCHEMA["destinations"]["schema"]["schema"] = DESTINATION_SCHEMA


def _channel_doc(module) -> str:
    """What a channel sends (its module's first line) and the secrets it needs."""
    needs = f" Secrets: {', '.join(module.SECRETS)}." if module.SECRETS else ""
    return module.__doc__.splitlines()[0] + needs


NOTIFICATIONS_SCHEMA = {
    "attempts": key("integer", "Tries per channel when it times out or answers 429/5xx.", default=3, min=1, max=10),
    "retry_wait_seconds": key("number", "Seconds to wait before the second try; doubled before each further one.",
                              default=5, min=0),
    "timeout_seconds": key("number", "Time limit in seconds of one request to a service.", default=20, min=1),
    **{name: key("dict", _channel_doc(module), schema=module.SCHEMA) for name, module in channels.registry().items()},
}

SCHEMA = {
    "email": key("list", "Addresses that receive the run summary (by the `sendgrid` or `smtp` channel).",
                 example=["admin@example.com"], default=[], schema={"type": "string", "check_with": "email"}),
    "log_level": key("string", "Least important level written to `log_file`: DEBUG, INFO, WARNING, ERROR or "
                               "CRITICAL.",
                     default="INFO", coerce="upper", allowed=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
    "log_file": key("string", "Log file, relative to the project folder or absolute; rotated at 5 MiB, 10 old files "
                              "kept.", default="log/backup.log", empty=False),
    "min_free_gb": key("number", "Free GiB each destination must report, else its backups are skipped with a "
                                 "CRITICAL alert (one that cannot tell gets a WARNING and is used); 0: no check.",
                       default=200, min=0),
    "check_timeout_seconds": key("integer", "Upper bound in seconds of every probe (source folder, rclone remote, "
                                            "free space), so a hung mount or server cannot hang the run.",
                                 default=60, min=1),
    "stall_timeout_seconds": key("integer", "A walk of a source, its hashing or a copy showing no progress for this "
                                            "many seconds is stopped (hung mount or server); the backup fails and "
                                            "nothing is pruned.", default=600, min=1),
    "run_timeout_hours": key("number", "Hours after its start at which a run stops whatever is still going, progress "
                                       "or not (a source that never ends, e.g. a file swapped for /dev/zero); what "
                                       "was stopped fails and nothing is pruned.", default=23, min=0.01),
    "parallel_destinations": key("integer", "Destinations of one backup copied at the same time (each its own "
                                            "rclone); a slow one holds one worker, the others go on; 1: one after "
                                            "the other.", default=2, min=1, max=16),
    "lock_wait_seconds": key("integer", "Seconds a run waits for an earlier run to finish before giving up; 0: gives "
                                        "up at once.", default=0, min=0),
    "rclone": key("dict", "rclone settings for every backup: `binary`, `config`, `flags`.",
                  default={}, schema=RCLONE_SCHEMA),
    "status_page": key("string", "Also copy the status page written after every full run (var/status.html) to "
                                 "this rclone path, e.g. where a web view shows it; several hosts: one path each.",
                       example="offsite:status/srv01.html", empty=False, check_with="rclone_path"),
    "notify_on_success": key("boolean", "Mail (and chat) after every run; false: only when something is wrong. "
                                        "Monitors and Pushover are not affected.", default=True),
    "secrets_file": key("string", "`NAME=value` lines with API keys and tokens, used where the environment has "
                                  "none; refused unless only its owner can read it (chmod 600).",
                        default="var/secrets.env", empty=False),
    "secrets_backend": key("string", "Where API keys and tokens are looked for after the environment and "
                                     "`secrets_file`: nowhere else (`file`), or also an encrypted keyring file "
                                     "(`keyring`, see `keyring`; store each with `doit secret_set name=NAME`).",
                           default="file", allowed=["file", "keyring"]),
    "keyring": key("dict", "The encrypted keyring file (`secrets_backend: keyring`): `file`, and `password_file`, "
                           "a file only its owner can read holding the master password (else it comes from "
                           "$KEYRING_CRYPTFILE_PASSWORD).",
                   example={"password_file": "/etc/offsite-backup/keyring-pass"}, default={}, schema=KEYRING_SCHEMA),
    "notifications": key("dict", "Channels and monitors to tell about each run (a channel is on when its key is "
                                 "present), and how often to try.", default={}, schema=NOTIFICATIONS_SCHEMA),
    "backup_copy_list": key("list", "The backups, one entry each; at least one.",
                            required=True, minlength=1, schema={"type": "dict", "schema": BACKUP_SCHEMA}),
}

#: `remote:path` (remote names as rclone allows them), `:backend,opt=val:path` (an on-the-fly remote) or a
#: local path without a colon in its first component.
REMOTE_PATTERN = re.compile(
    r"""^(?P<remote>[A-Za-z0-9_.+@][A-Za-z0-9_.+@ -]*|:[a-z0-9]+(?:,(?:[^:'"]|'[^']*'|"[^"]*")*)?):(?P<path>.*)$""",
    re.DOTALL)
