"""Choose the files to copy: regular files below the source, young enough, not excluded.

The chosen paths are streamed to a list file (one path per line, relative to the source, as rclone's
`--files-from-raw` reads it), so memory stays flat however big the tree, and the copy uses exactly the files whose
sizes were summed.
"""

import dataclasses
import fnmatch
import os
import re
from pathlib import Path

#: How many problem paths a result names; the count is always exact.
NAMED_AT_MOST = 20

#: The checksum file at the top of every dated folder (tasks.integrity.SUMS_NAME); a source file there would clash.
RESERVED_NAME = "SHA256SUMS"


@dataclasses.dataclass
class Selection:
    files: int = 0
    bytes: int = 0
    newest_selected: float | None = None   # mtime of the youngest selected file
    newest_seen: float | None = None       # mtime of the youngest regular file, selected or not
    excluded: int = 0
    symlinks: int = 0                      # not followed: a link may point anywhere, even out of the source
    problems: int = 0                      # entries that could not be read or listed
    problem_examples: list[str] = dataclasses.field(default_factory=list)

    def problem(self, path: str, reason: str) -> None:
        self.problems += 1
        if len(self.problem_examples) < NAMED_AT_MOST:
            self.problem_examples.append(f"{path}: {reason}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def probe(source: Path) -> dict:
    """What a source folder looks like: missing, not a folder, unreadable, empty, or ok (and whether it is a
    mount point). Run in a child process: on a hung mount this blocks."""
    try:
        if not os.path.lexists(source):
            return {"state": "missing"}
        if not os.path.isdir(source):
            return {"state": "not_a_folder"}
        with os.scandir(source) as entries:
            has_entries = next(entries, None) is not None
    except OSError as error:
        return {"state": "unreadable", "error": error.strerror or str(error)}
    return {"state": "ok" if has_entries else "empty", "mount_point": os.path.ismount(source)}


def exclusion_matcher(patterns: tuple[str, ...]):
    """A function telling whether a relative path is excluded (glob on the path, or on the name alone)."""
    if not patterns:
        return lambda relative, name: False
    on_path = re.compile("|".join(fnmatch.translate(p) for p in patterns))
    on_name_patterns = [p for p in patterns if "/" not in p]
    on_name = re.compile("|".join(fnmatch.translate(p) for p in on_name_patterns)) if on_name_patterns else None
    return lambda relative, name: bool(on_path.match(relative) or (on_name and on_name.match(name)))


def select(source: Path, newer_than: float | None, exclude: tuple[str, ...], list_file: Path,
           progress=lambda: None) -> Selection:
    """Walk `source`, write the chosen relative paths to `list_file`, and return what was found.

    `newer_than` is a Unix time: files modified before it are left out (None: every file). `progress` is
    called for every folder, so a watchdog can tell a slow walk from a hung one.
    """
    selection = Selection()
    excluded = exclusion_matcher(exclude)
    descriptor = os.open(list_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as listing:
        pending = [""]
        while pending:
            folder = pending.pop()
            progress()
            try:
                with os.scandir(source / folder if folder else source) as entries:
                    for entry in entries:
                        relative = f"{folder}/{entry.name}" if folder else entry.name
                        _consider(entry, relative, selection, excluded, newer_than, listing, pending)
            except OSError as error:
                selection.problem(folder or ".", f"folder cannot be listed ({error.strerror})")
    return selection


def _consider(entry, relative, selection, excluded, newer_than, listing, pending) -> None:
    try:
        if entry.is_symlink():
            selection.symlinks += 1
        elif entry.is_dir(follow_symlinks=False):
            pending.append(relative)
        elif entry.is_file(follow_symlinks=False):
            stat = entry.stat(follow_symlinks=False)
            selection.newest_seen = max(selection.newest_seen or stat.st_mtime, stat.st_mtime)
            if excluded(relative, entry.name):
                selection.excluded += 1
            elif newer_than is None or stat.st_mtime >= newer_than:
                if relative == RESERVED_NAME:
                    selection.problem(relative, "clashes with the checksum file this tool writes into each copy")
                    return
                if "\n" in relative or "\r" in relative:
                    selection.problem(relative.replace("\n", "\\n").replace("\r", "\\r"),
                                      "name contains a line break, which rclone's file list cannot carry")
                    return
                listing.write(relative + "\n")
                selection.files += 1
                selection.bytes += stat.st_size
                selection.newest_selected = max(selection.newest_selected or stat.st_mtime, stat.st_mtime)
    except OSError as error:
        selection.problem(relative, f"cannot be read ({error.strerror})")
