"""Files and folders the tool trusts while it runs as root: refused when someone else could change them.

As ssh's StrictModes and cron do: a file the tool takes its settings from or runs (the config file, the secrets
file, rclone.binary, ...), and every folder and symbolic link on the way to it from `/`, must belong to root (or
to the user running the tool) and must not be writable by group or others (a folder may be, with the sticky bit,
as /tmp is). Ownership is only enforced when running as root; the rest always.

The state folders (the lock's, results, the log's) are the tool's own: created 0700 and refused when another user
owns them or others may write them (the log's folder may be sticky, as /tmp); the state files are opened without
following a symbolic link and refused when they are not the tool's own. Every message names the file or folder
and the command that fixes it.
"""

import errno
import os
import stat
from pathlib import Path

#: As the kernel: a path needing more than this many symbolic links is not resolved.
MAX_LINKS = 40

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


class Unsafe(Exception):
    """A file or folder the tool would trust can be changed by someone else; the message says which and the fix."""


def trusted_owners() -> frozenset[int] | None:
    """The owners a trusted file may have; None when ownership is not enforced (not running as root)."""
    euid = os.geteuid()
    return frozenset({0, euid}) if euid == 0 else None


def problems(path: str | Path, what: str, *, link_allowed: bool = True, file_rules: bool = True) -> list[str]:
    """Why `what` at `path` (a file the tool reads or runs) could be changed by someone else, or [] when it could
    not. A missing file is not a problem here (whoever reads it says so). `link_allowed=False`: the file itself
    must not be a symbolic link (the folders on the way may be). `file_rules=False`: only the way to the file is
    checked here; the caller checks the file itself (see `file_problems`), e.g. on the descriptor it reads."""
    path = os.path.abspath(path)
    try:
        steps = _traversed(path, follow_final=link_allowed)
    except FileNotFoundError:
        return []
    except OSError as error:
        return [f"{what} {path} cannot be checked: {error.strerror or error}"]
    found = []
    owners = trusted_owners()
    *on_the_way, (real, info) = steps
    for step, step_info in on_the_way:
        if owners is not None and step_info.st_uid not in owners:
            found.append(f"{what} {path} goes through symbolic link {step}, owned by uid {step_info.st_uid}, not "
                         f"root: chown -h root {step}" if stat.S_ISLNK(step_info.st_mode) else
                         f"{what} {path} is in folder {step}, owned by uid {step_info.st_uid}, not root: "
                         f"chown root {step}")
        if (stat.S_ISDIR(step_info.st_mode) and step_info.st_mode & _WRITABLE_BY_OTHERS
                and not step_info.st_mode & stat.S_ISVTX):
            found.append(f"{what} {path} is in folder {step}, which is writable by other users: chmod go-w {step}")
    if stat.S_ISLNK(info.st_mode):  # only when `link_allowed` is False: the link is then the last step
        found.append(f"{what} {path} is a symbolic link: put the file itself there")
    elif file_rules:
        found += file_problems(path, info, what, real=real)
    return list(dict.fromkeys(found))  # a folder gone through twice (a link back) is named once


def file_problems(path: str | Path, info: os.stat_result, what: str, real: str | Path | None = None) -> list[str]:
    """The rules for the file itself, from its lstat or fstat: a regular file, owned by a trusted owner, not
    writable by group or others. `real`: the file `path` leads to through symbolic links, named in the fix."""
    shown = f"{what} {path}" if real is None or str(real) == str(path) else f"{what} {path} (the file {real})"
    real = real or path
    if not stat.S_ISREG(info.st_mode):
        return [f"{shown} is not a regular file"]
    found = []
    owners = trusted_owners()
    if owners is not None and info.st_uid not in owners:
        found.append(f"{shown} is owned by uid {info.st_uid}, not root: chown root {real}")
    if info.st_mode & _WRITABLE_BY_OTHERS:
        found.append(f"{shown} is writable by other users: chmod go-w {real}")
    return found


def _traversed(path: str, follow_final: bool) -> list[tuple[str, os.stat_result]]:
    """(name, lstat) of every folder and symbolic link the kernel goes through to reach absolute `path`, from `/`,
    and last of the file itself. Links are followed as the kernel follows them, so the folders a link leads
    through are steps too; a final link only when `follow_final` (else it is the last step)."""
    steps = [("/", os.lstat("/"))]
    pending = path.split("/")
    current = "/"
    links = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        info = os.lstat(candidate)
        steps.append((candidate, info))
        if stat.S_ISLNK(info.st_mode) and (follow_final or any(item not in ("", ".") for item in pending)):
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = "/"
            pending = target.split("/") + pending
        else:
            current = candidate
    return steps


def private_folder(path: Path, what: str, sticky_ok: bool = False) -> Path:
    """Create state folder `path` (0700, with its parents) if missing; refuse (Unsafe) one that is a symbolic link,
    is not a folder, belongs to another user or may be written by others. `sticky_ok`: others may write it if it
    has the sticky bit (as /tmp): for a folder the tool only writes new files into, through `open_private`, whose
    checks refuse whatever another user put there, and whose files others cannot rename or delete."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise Unsafe(f"{what} {path} is a symbolic link: remove it (the tool creates the folder itself)")
    if not stat.S_ISDIR(info.st_mode):
        raise Unsafe(f"{what} {path} is not a folder")
    owners = trusted_owners()
    if owners is not None and info.st_uid not in owners:
        raise Unsafe(f"{what} {path} is owned by uid {info.st_uid}, not root: chown root {path}")
    if info.st_mode & _WRITABLE_BY_OTHERS and not (sticky_ok and info.st_mode & stat.S_ISVTX):
        raise Unsafe(f"{what} {path} is writable by other users: chmod go-w {path}")
    return path


def open_private(path: Path, flags: int, what: str) -> int:
    """os.open for a state file of the tool: never through a symbolic link, created 0600, and refused (Unsafe)
    unless it is a regular file with a single name that belongs to the running user (root: to root) and that
    others cannot write. Returns the descriptor."""
    try:
        descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError:
        if os.path.islink(path):
            raise Unsafe(f"{what} {path} is a symbolic link: remove it (the tool creates the file itself)") from None
        raise
    try:
        info = os.fstat(descriptor)
        found = file_problems(path, info, what)
        if not found and info.st_nlink != 1:
            found.append(f"{what} {path} has {info.st_nlink} names (a hard link): remove it, the tool creates "
                         "the file itself")
        if found:
            raise Unsafe("; ".join(found))
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
