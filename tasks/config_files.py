"""The files a config names that the job runs or trusts, and the secrets the config file itself holds.

Running as root, a file another user could change (rclone.binary, rclone.config, smtp.ca_file) is a problem of
what uses it (tasks.file_safety says why, and the fix); a password in a config file others can read is a warning.
"""

import os
import shutil
import stat
from pathlib import Path

from tasks import file_safety, validation
from tasks.config_yaml import project_path


def untrusted(document: dict) -> list[tuple[validation.Position, str]]:
    """The files named in the config that the job would run or trust although another user could change them:
    each rclone.binary and rclone.config (a problem of the backups that use it) and the SMTP CA file (of the
    notifications). The default rclone, beside the interpreter that runs this code, is as safe as the code."""
    wanted = [(("rclone",), document.get("rclone")), *_in_entries(document, "rclone")]
    found = []
    for position, settings in wanted:
        settings = settings if isinstance(settings, dict) else {}
        binary, rclone_config = settings.get("binary"), settings.get("config")
        if isinstance(binary, str) and binary:
            program = _program(binary)
            found += [((*position, "binary"), problem)
                      for problem in (file_safety.problems(program, "rclone.binary") if program else ())]
        if isinstance(rclone_config, str) and rclone_config:
            found += [((*position, "config"), problem)
                      for problem in file_safety.problems(project_path(rclone_config), "rclone.config")]
    notifications = document.get("notifications")
    smtp = notifications.get("smtp") if isinstance(notifications, dict) else None
    ca_file = smtp.get("ca_file") if isinstance(smtp, dict) else None
    if isinstance(ca_file, str) and ca_file:
        found += [(("notifications", "smtp", "ca_file"), problem)
                  for problem in file_safety.problems(project_path(ca_file), "smtp.ca_file")]
    return found


def _in_entries(document: dict, key: str) -> list[tuple[validation.Position, object]]:
    """(position, value) of `key` in every backup entry and every item of its `destinations`, where present."""
    entries = document.get(validation.BACKUPS)
    sections = []
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        items = entry.get("destinations") if isinstance(entry, dict) else None
        sections += [((validation.BACKUPS, index), entry)] + [
            ((validation.BACKUPS, index, "destinations", number), item)
            for number, item in enumerate(items if isinstance(items, list) else ())]
    return [((*position, key), section[key]) for position, section in sections
            if isinstance(section, dict) and key in section]


def _program(binary: str) -> str | None:
    """The file that running `binary` starts, as subprocess finds it: a path (relative to the current folder),
    or a bare name looked up on PATH; None when there is none (check_rclone reports that)."""
    if os.sep in binary:
        return os.path.abspath(os.path.expanduser(binary))
    return shutil.which(binary)


def exposed_passwords(path: Path, document: dict) -> list[str]:
    """A warning for each secret in the config (an on-the-fly remote's `pass=`, a secret in rclone flags) while
    the file is readable by group or others."""
    from tasks.rclone import redact  # here: tasks.rclone imports this module

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return []
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    candidates = _in_entries(document, "rclone_path")
    rclone_sections = [(("rclone",), document.get("rclone")), *_in_entries(document, "rclone")]
    for position, section in rclone_sections:
        flags = section.get("flags") if isinstance(section, dict) else None
        candidates += [((*position, "flags"), flag) for flag in (flags if isinstance(flags, list) else ())]
    places = list(dict.fromkeys(validation.place(position, document) for position, value in candidates
                                if isinstance(value, str) and redact(value) != value))
    if not places:
        return []
    return [f"{', '.join(places)} holds a password or key, and the file is readable by other users "
            f"(mode {stat.filemode(mode)}): chmod 600 {path}"]
