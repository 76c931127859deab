"""Choose the files to copy: regular files below the source, young enough, not excluded, with names rclone can
carry in its file list.

The chosen paths are streamed to a list file (one path per line, relative to the source, as rclone's
`--files-from-raw` reads it), so memory stays flat however big the tree, and the copy uses exactly the files whose
sizes were summed. Beside it, in the same order, the walk records each listed file's device, inode and size: others
can write the source, so whatever later reads a listed path checks it still finds that very file (tasks.integrity).
"""

import contextlib
import dataclasses
import fnmatch
import itertools
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from tasks import file_safety
from tasks.watchdog import die_with_parent

#: How many problem paths a result names; the count is always exact.
NAMED_AT_MOST = 20

#: The checksum file at the top of every dated folder and the file that authenticates it (tasks.integrity); a
#: source file of either name there would clash.
RESERVED_NAMES = ("SHA256SUMS", "SHA256SUMS.hmac")

#: Characters that make rclone (1.75.2, measured) skip a listed name silently: it compares the list with names in
#: its internal encoding, which turns C0 controls and DEL into the Control Pictures U+2401-U+241F and U+2421, and
#: quotes those pictures and its quote mark U+201B with U+201B. (`‛‛`, `‛␀` and `‛／` survive; refusing every
#: U+201B is simpler and only ever refuses, never loses.) C1 controls and U+2028/U+2029 are copied.
SKIPPED_BY_RCLONE = re.compile("[\x01-\x1f\x7f\u2401-\u241f\u2421\u201b]")

#: What `escaped` writes as an escape: controls, line separators and undecodable bytes (surrogate escapes).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")

#: One GNU find record per regular file: size, mtime, device, inode, path below the source.
_FILE_RECORD = "F%s %T@ %D %i %P\\0"


class Walked(NamedTuple):
    """What the walk saw of a listed file: a reader of its path must find this very file, this size."""

    device: int
    inode: int
    size: int


class _Found(NamedTuple):
    """One regular file as find reported it."""

    size: int
    mtime: float
    device: int
    inode: int
    relative: str


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
    marked_folders: list[str] = dataclasses.field(default_factory=list)  # skipped for a marker file, top ones
    marked_files: int = 0                  # files below them, young enough, that were left out

    def problem(self, path: str, reason: str) -> None:
        self.problems += 1
        if len(self.problem_examples) < NAMED_AT_MOST:
            self.problem_examples.append(f"{escaped(path)}: {reason}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def escaped(name: str) -> str:
    """A name fit for a one-line message: a name can carry controls and line separators that would forge lines or
    drive a terminal; they, and undecodable bytes, show as escapes (`\\x1b`, `\\n`, `\\u2028`)."""
    return _UNPRINTABLE.sub(_escape, name)


def _escape(match: re.Match) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(match[0]) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def stat_file(list_file: Path) -> Path:
    """The walk's record (device, inode, size) of each listed file, line by line beside the list."""
    return list_file.with_name(list_file.name + ".stat")


def listed(list_file: Path):
    """Yield (path as bytes, Walked or None) for each line of the list, streamed; None when the walk recorded
    nothing for it (a list not written by `select`), which a reader must treat as unknown, not as fine."""
    record_file = stat_file(list_file)
    with open(list_file, "rb") as paths, \
            open(record_file, "rb") if record_file.exists() else contextlib.nullcontext(()) as records:
        for line, record in itertools.zip_longest(paths, records):
            if line is None:
                return
            walked = Walked(*map(int, record.split())) if record else None
            yield line.removesuffix(b"\n"), walked


def refusal(relative: str) -> str | None:
    """Why a file of this name cannot be copied (a clash, or a name rclone's list cannot carry), or None."""
    if relative in RESERVED_NAMES:
        return "clashes with the checksum file this tool writes into each copy"
    if "\n" in relative or "\r" in relative:
        return "name contains a line break, which rclone's file list cannot carry"
    if skipped := sorted(set(SKIPPED_BY_RCLONE.findall(relative))):
        shown = ", ".join(escaped(char) if escaped(char) != char else f"{char} (U+{ord(char):04X})"
                          for char in skipped)
        return f"name contains {shown}, which rclone skips silently in a file list"
    return None


def exclusion_matcher(patterns: tuple[str, ...]):
    """A function telling whether a relative path is excluded (glob on the path, or on the name alone)."""
    if not patterns:
        return lambda relative, name: False
    on_path = re.compile("|".join(fnmatch.translate(p) for p in patterns))
    on_name_patterns = [p for p in patterns if "/" not in p]
    on_name = re.compile("|".join(fnmatch.translate(p) for p in on_name_patterns)) if on_name_patterns else None
    return lambda relative, name: bool(on_path.match(relative) or (on_name and on_name.match(name)))


def _private(path: Path):
    return open(file_safety.open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "file list"), "wb")


def select(source: Path, newer_than: float | None, exclude: tuple[str, ...], list_file: Path,
           progress=lambda: None, markers: tuple[str, ...] = ()) -> Selection:
    """Walk `source`, write the chosen relative paths to `list_file` (and what the walk saw of each to its
    `stat_file`), and return what was found. A folder holding a file named in `markers` is left out with all
    below it.

    `newer_than` is a Unix time: files modified before it are left out (None: every file). The walk is GNU
    find's (several times faster than a walk in Python: the stat of every file dominates); `progress` is called
    for every chunk find writes, so a watchdog can tell a slow walk from a hung one.
    """
    selection, marked = Selection(), set()
    excluded = exclusion_matcher(exclude)
    age = ["-newermt", f"@{newer_than:.6f}"] if newer_than is not None else []
    with _private(list_file) as listing, _private(stat_file(list_file)) as records, \
            _private(_mtime_file(list_file)) as mtimes:
        for found in _find(source, age, selection, progress, markers, marked):
            relative = found.relative
            if exclude and excluded(relative, relative.rsplit("/", 1)[-1]):
                selection.excluded += 1
            elif reason := refusal(relative):
                selection.problem(relative, reason)
            else:
                listing.write(os.fsencode(relative) + b"\n")
                records.write(b"%d %d %d\n" % (found.device, found.inode, found.size))
                mtimes.write(b"%r\n" % found.mtime)
                selection.files += 1
                selection.bytes += found.size
                selection.newest_selected = max(selection.newest_selected or found.mtime, found.mtime)
    if marked:  # a folder's marker may come after its files: they are taken out of the list now
        _leave_out(list_file, sorted(marked), selection)
    _mtime_file(list_file).unlink()
    selection.newest_seen = selection.newest_selected
    if selection.files == 0 and newer_than is not None:  # only then is the age of the newest file news
        for found in _find(source, [], Selection(), progress, markers, set()):
            selection.newest_seen = max(selection.newest_seen or found.mtime, found.mtime)
    return selection


def _mtime_file(list_file: Path) -> Path:
    return list_file.with_name(list_file.name + ".mtime")


def _leave_out(list_file: Path, marked: list[str], selection: Selection) -> None:
    """Take the files below the `marked` folders out of the list and its records (streamed, both rewritten), and
    count again what is left."""
    top = [folder for folder in marked if not any(folder.startswith(other + "/") or other == ""
                                                  for other in marked if other != folder)]
    prefixes = tuple(os.fsencode(folder) + b"/" for folder in top)
    selection.marked_folders = [escaped(folder) or "." for folder in top]
    selection.files, selection.bytes, selection.newest_selected = 0, 0, None
    kept = list_file.with_name(list_file.name + ".kept")
    with open(list_file, "rb") as paths, open(stat_file(list_file), "rb") as records, \
            open(_mtime_file(list_file), "rb") as mtimes, _private(kept) as listing, \
            _private(stat_file(kept)) as kept_records:
        for path, record, mtime in zip(paths, records, mtimes, strict=True):
            if "" in top or path.startswith(prefixes):
                selection.marked_files += 1
                continue
            listing.write(path)
            kept_records.write(record)
            selection.files += 1
            selection.bytes += int(record.split()[2])
            selection.newest_selected = max(selection.newest_selected or float(mtime), float(mtime))
    os.replace(stat_file(kept), stat_file(list_file))
    os.replace(kept, list_file)


def _find(source: Path, age: list[str], selection: Selection, progress, markers: tuple[str, ...] = (),
          marked: set[str] | None = None):
    """Yield a _Found for every regular file GNU find reports (of the given `age` test); count symbolic links
    (never followed), note every folder find could not read as a problem, and add to `marked` each folder that
    holds one of the `markers` (never listed themselves). Folders are reported as records too, as progress."""
    names = [part for marker in markers for part in ("-o", "-name", marker)][1:]
    marker_test = ["(", "-type", "f", "(", *names, ")", "-printf", "M%P\\0", ")", "-o"] if markers else []
    command = ["find", str(source), "-mindepth", "1", "(", "-type", "d", "-printf", "D\\0", ")", "-o",
               "(", "-type", "l", "-printf", "L\\0", ")", "-o", *marker_test,
               "(", "-type", "f", *age, "-printf", _FILE_RECORD, ")"]
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
                    size, mtime, device, inode, path = record[1:].split(b" ", 4)
                    yield _Found(int(size), float(mtime), int(device), int(inode), os.fsdecode(path))
                elif kind == b"L":
                    selection.symlinks += 1
                elif kind == b"M" and marked is not None:
                    marked.add(os.fsdecode(record[1:]).rpartition("/")[0])
        process.wait()
        errors.seek(0)
        for line in errors.read().decode("utf-8", "surrogateescape").split("\n"):  # a name may hold U+2028
            if line:
                selection.problem(*_find_error(line, source))


def _find_error(line: str, source: Path) -> tuple[str, str]:
    """`find: '/src/a': Permission denied` -> ('a', 'cannot be read (Permission denied)')."""
    match = re.match(r"find: ‘(.*)’: (.*)$|find: '(.*)': (.*)$", line)
    if not match:
        return ".", line
    path, reason = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
    relative = os.path.relpath(path, source) if path.startswith(str(source)) else path
    return relative, f"cannot be read ({reason})"
