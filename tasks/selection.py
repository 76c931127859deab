"""Choose the files to copy: regular files below the source, young enough, not excluded.

The chosen paths are streamed to a list file (one path per line, relative to the source, as rclone's
`--files-from-raw` reads it), so memory stays flat however big the tree, and the copy uses exactly the files whose
sizes were summed.
"""

import dataclasses
import fnmatch
import os
import re
import subprocess
import tempfile
from pathlib import Path

from tasks.watchdog import die_with_parent

#: How many problem paths a result names; the count is always exact.
NAMED_AT_MOST = 20

#: The checksum file at the top of every dated folder and the file that authenticates it (tasks.integrity); a
#: source file of either name there would clash.
RESERVED_NAMES = ("SHA256SUMS", "SHA256SUMS.hmac")


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

    `newer_than` is a Unix time: files modified before it are left out (None: every file). The walk is GNU
    find's (several times faster than a walk in Python: the stat of every file dominates); `progress` is called
    for every chunk find writes, so a watchdog can tell a slow walk from a hung one.
    """
    selection = Selection()
    excluded = exclusion_matcher(exclude)
    age = ["-newermt", f"@{newer_than:.6f}"] if newer_than is not None else []
    descriptor = os.open(list_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as listing:
        for kind, size, mtime, relative in _find(source, ["(", "-type", "f", *age, "-printf", "F%s %T@ %P\\0", ")"],
                                                  selection, progress):
            if kind != "F":
                continue
            name = relative.rsplit("/", 1)[-1]
            if exclude and excluded(relative, name):
                selection.excluded += 1
            elif relative in RESERVED_NAMES:
                selection.problem(relative, "clashes with the checksum file this tool writes into each copy")
            elif "\n" in relative or "\r" in relative:
                selection.problem(relative.replace("\n", "\\n").replace("\r", "\\r"),
                                  "name contains a line break, which rclone's file list cannot carry")
            else:
                listing.write(os.fsencode(relative) + b"\n")
                selection.files += 1
                selection.bytes += size
                selection.newest_selected = max(selection.newest_selected or mtime, mtime)
    selection.newest_seen = selection.newest_selected
    if selection.files == 0 and newer_than is not None:  # only then is the age of the newest file news
        for kind, _, mtime, _ in _find(source, ["(", "-type", "f", "-printf", "F0 %T@ \\0", ")"], Selection(),
                                       progress):
            if kind == "F":
                selection.newest_seen = max(selection.newest_seen or mtime, mtime)
    return selection


def _find(source: Path, files_expression: list[str], selection: Selection, progress):
    """Yield (kind, size, mtime, relative path) records from GNU find; count symbolic links (never followed) and
    note every folder find could not read as a problem. Folders are reported as records too, as progress."""
    command = ["find", str(source), "-mindepth", "1", "(", "-type", "d", "-printf", "D\\0", ")", "-o",
               "(", "-type", "l", "-printf", "L\\0", ")", "-o", *files_expression]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
                                   preexec_fn=die_with_parent)
        rest = b""
        while chunk := process.stdout.read1(1 << 20):
            progress()
            records = (rest + chunk).split(b"\0")
            rest = records.pop()
            for record in records:
                kind = record[:1]
                if kind == b"F":
                    size, mtime, path = record[1:].split(b" ", 2)
                    yield "F", int(size), float(mtime), os.fsdecode(path)
                elif kind == b"L":
                    selection.symlinks += 1
        process.wait()
        errors.seek(0)
        for line in errors.read().decode("utf-8", "surrogateescape").splitlines():
            selection.problem(*_find_error(line, source))


def _find_error(line: str, source: Path) -> tuple[str, str]:
    """`find: '/src/a': Permission denied` -> ('a', 'cannot be read (Permission denied)')."""
    match = re.match(r"find: ‘(.*)’: (.*)$|find: '(.*)': (.*)$", line)
    if not match:
        return ".", line
    path, reason = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
    relative = os.path.relpath(path, source) if path.startswith(str(source)) else path
    return relative, f"cannot be read ({reason})"
