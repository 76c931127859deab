"""The configuration schema: the single source of truth for keys, types, defaults and their meaning.

`tasks.config` validates against it, `var/config.example.yaml` and the README document it, and a test keeps
all three in step.
"""

import re

from tasks import channels

#: Backup names become folder names (`<name>_YYYY-MM-DD`) and doit task names: keep them plain.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"

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

EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"

RCLONE_SCHEMA = {
    "binary": {
        "type": "string", "empty": False,
        "meta": {"doc": "rclone program to run. Default: the one installed in the project's virtualenv, "
                        "else `rclone` on PATH."},
    },
    "config": {
        "type": "string", "empty": False,
        "meta": {"doc": "rclone config file. Default: rclone's own choice (honours RCLONE_CONFIG)."},
    },
    "flags": {
        "type": "list", "schema": {"type": "string"}, "check_with": "rclone_flags",
        "meta": {"doc": "Extra rclone flags for copies, e.g. [\"--bwlimit\", \"8M\", \"--transfers\", \"2\"]. "
                        "Per-backup flags are added after the global ones. Filter flags are refused: use `exclude`."},
    },
}

BACKUP_SCHEMA = {
    "name": {
        "type": "string", "required": True, "regex": NAME_PATTERN,
        "meta": {"doc": "Unique name; the copy goes into `<rclone_path>/<name>_YYYY-MM-DD`. Letters, digits, "
                        "`.`, `_`, `-`; at most 64 characters."},
    },
    "source_dir": {
        "type": "string", "required": True, "empty": False,
        "meta": {"doc": "Folder to copy, read recursively (a USB disk or Samba mount). Relative paths are "
                        "relative to the project folder."},
    },
    "rclone_path": {
        "type": "string", "required": True, "empty": False, "check_with": "rclone_path",
        "meta": {"doc": "Destination: `remote:path` of a configured rclone remote, or a local folder that "
                        "must already exist (relative paths are relative to the project folder)."},
    },
    "max_size_mb": {
        "type": "number", "min": 1, "default": 1024,
        "meta": {"doc": "Refuse the copy (ERROR alert) when the selected files total more than this many "
                        "MiB (1 MiB = 1,048,576 bytes)."},
    },
    "days": {
        "type": "integer", "min": 0, "nullable": True, "default": 0,
        "meta": {"doc": "Copy only files modified in the last `days` x 24 hours. 0, empty or absent: all files."},
    },
    "retention": {
        "type": "integer", "min": 1, "default": 2,
        "meta": {"doc": "Keep this many newest dated folders."},
    },
    "retention_days": {
        "type": "integer", "min": 0, "default": 0,
        "meta": {"doc": "Also keep the newest folder of each of the last N days that have one."},
    },
    "retention_weeks": {
        "type": "integer", "min": 0, "default": 0,
        "meta": {"doc": "Also keep the newest folder of each of the last N ISO weeks that have one."},
    },
    "retention_months": {
        "type": "integer", "min": 0, "default": 0,
        "meta": {"doc": "Also keep the newest folder of each of the last N months that have one."},
    },
    "min_free_gb": {
        "type": "number", "min": 0,
        "meta": {"doc": "Override the global `min_free_gb` for this destination."},
    },
    "exclude": {
        "type": "list", "schema": {"type": "string", "empty": False}, "default": [],
        "meta": {"doc": "Glob patterns of files to leave out, matched against the path below `source_dir` "
                        "(`*` also crosses `/`) and against the bare file name, e.g. [\"*.tmp\", \"cache/*\"]."},
    },
    "verify": {
        "type": "string", "allowed": ["checksum", "download", "off"], "default": "checksum",
        "meta": {"doc": "After each copy: compare by hash where source and remote share one, else by size "
                        "(checksum); read every copied file back (download); or not at all (off)."},
    },
    "drill_every_days": {
        "type": "integer", "min": 0, "default": 0,
        "meta": {"doc": "Every N days, download a random sample of the newest complete folder and check it "
                        "against its SHA256SUMS (restore drill). 0: never."},
    },
    "drill_files": {
        "type": "integer", "min": 1, "default": 5,
        "meta": {"doc": "At most this many files in a restore drill."},
    },
    "drill_max_mb": {
        "type": "number", "min": 1, "default": 100,
        "meta": {"doc": "At most this many MiB downloaded by a restore drill."},
    },
    "rclone": {
        "type": "dict", "schema": RCLONE_SCHEMA, "default": {},
        "meta": {"doc": "rclone settings for this backup only (binary, config, flags)."},
    },
}

NOTIFICATIONS_SCHEMA = {
    "attempts": {
        "type": "integer", "min": 1, "max": 10, "default": 3,
        "meta": {"doc": "Tries per channel when it times out or answers 429/5xx."},
    },
    "retry_wait_seconds": {
        "type": "number", "min": 0, "default": 5,
        "meta": {"doc": "Wait before the second try; doubled before each further one."},
    },
    "timeout_seconds": {
        "type": "number", "min": 1, "default": 20,
        "meta": {"doc": "Time limit of one request to a service."},
    },
    **{name: {"type": "dict", "schema": module.SCHEMA, "meta": {"doc": module.__doc__.splitlines()[0]}}
       for name, module in channels.registry().items()},
}

SCHEMA = {
    "email": {
        "type": "list", "schema": {"type": "string", "regex": EMAIL_PATTERN}, "default": [],
        "meta": {"doc": "Addresses that receive the run summary."},
    },
    "log_level": {
        "type": "string", "default": "INFO", "coerce": "upper",
        "allowed": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        "meta": {"doc": "Least important level written to `log_file`."},
    },
    "log_file": {
        "type": "string", "empty": False, "default": "log/backup.log",
        "meta": {"doc": "Log file, relative to the project folder or absolute. Rotated at 5 MiB, 10 kept."},
    },
    "min_free_gb": {
        "type": "number", "min": 0, "default": 200,
        "meta": {"doc": "Free space (GiB) each destination must report; below it the backups to it are "
                        "skipped with a CRITICAL alert. 0 turns the check off."},
    },
    "check_timeout_seconds": {
        "type": "integer", "min": 1, "default": 60,
        "meta": {"doc": "Upper bound for every probe (source folder, rclone remote, free space), so a hung "
                        "mount or server cannot hang the run."},
    },
    "stall_timeout_seconds": {
        "type": "integer", "min": 1, "default": 600,
        "meta": {"doc": "A walk of a source, its hashing or a copy that shows no progress for this long is "
                        "stopped (a mount or server that hung mid-run)."},
    },
    "lock_wait_seconds": {
        "type": "integer", "min": 0, "default": 0,
        "meta": {"doc": "How long a run waits for an earlier run to finish before giving up."},
    },
    "rclone": {
        "type": "dict", "schema": RCLONE_SCHEMA, "default": {},
        "meta": {"doc": "rclone settings for every backup (binary, config, flags)."},
    },
    "notify_on_success": {
        "type": "boolean", "default": True,
        "meta": {"doc": "Mail (and chat) after every run; false: only when something is wrong. Monitors and "
                        "Pushover are not affected."},
    },
    "secrets_file": {
        "type": "string", "empty": False, "default": "var/secrets.env",
        "meta": {"doc": "NAME=value lines with API keys and tokens, used where the environment has none. "
                        "Refused when group or others can read it."},
    },
    "notifications": {
        "type": "dict", "default": {}, "schema": NOTIFICATIONS_SCHEMA,
        "meta": {"doc": "Channels and monitors to tell about each run; a channel is on when its key is present."},
    },
    "backup_copy_list": {
        "type": "list", "required": True, "minlength": 1,
        "schema": {"type": "dict", "schema": BACKUP_SCHEMA},
        "meta": {"doc": "The backups, one entry each."},
    },
}

#: `remote:path` (remote names as rclone allows them), `:backend,opt=val:path` (an on-the-fly remote) or a
#: local path without a colon in its first component.
REMOTE_PATTERN = re.compile(
    r"""^(?P<remote>[A-Za-z0-9_.+@][A-Za-z0-9_.+@ -]*|:[a-z0-9]+(?:,(?:[^:'"]|'[^']*'|"[^"]*")*)?):(?P<path>.*)$""",
    re.DOTALL)
