"""SHA256SUMS: computing, reading, writing and checking the checksum file every dated folder carries.

The format is the one `sha256sum -c` reads: `<64 hex digits>  <path relative to the folder>`, one file a line.
A folder gets its SHA256SUMS last, after its copy was verified: a folder without one is incomplete.
"""

import contextlib
import errno
import hashlib
import os
import random
import stat
from pathlib import Path

from tasks import selection

SUMS_NAME, HMAC_NAME = selection.RESERVED_NAMES
ARCHIVE_NAME = "ARCHIVE-SHA256SUMS"  # an archive's manifest (tasks.archive)
CHUNK = 1024 * 1024

#: Opening inside a source others can write: never through a symbolic link, never blocking on a FIFO.
_NO_SURPRISES = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_OPEN_ERRORS = {
    errno.ELOOP: "changed since it was listed (it or a folder on its path is now a symbolic link, not followed)",
    errno.ENOTDIR: "changed since it was listed (a folder on its path is no longer a folder)",
    errno.ENOENT: "vanished since it was listed",
}


class NotAsListed(Exception):
    """The file at a listed path is not the one the walk saw, or it changed while it was read: why."""


def sha256_of(path: Path) -> str:
    """Hash in 1 MiB chunks: a file is never read into memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


#: Hashes a remote may offer that can be computed here in the same read as the sha256, for the verification.
SECOND_HASHES = ("md5", "sha1")


def hash_listed(source: Path, file_list: Path, sums_file: Path, progress=lambda: None,
                also: dict[str, Path] | None = None) -> tuple[int, list[str]]:
    """Write the sha256 of each file named in `file_list` to `sums_file` (SHA256SUMS format, streamed: memory
    stays flat); return how many were hashed, and the files that are not as the walk saw them (named).
    `also`: md5 and/or sha1 -> its sums file, computed in the same read, for destinations that offer only that
    hash: their copies are then checked against the very content that was sealed.

    Others can write the source: a listed file may since be a link to /dev/zero, a FIFO, or a bigger file. So each
    is opened from the source's descriptor without following links, must be the very file the walk recorded, and
    is read to exactly its recorded size. `progress` is called for every MiB read, so a watchdog can tell slow
    hashing from a hung source."""
    hashed, problems = 0, []
    try:
        folders = _SourceFolders(source)
    except OSError as error:
        return 0, [f"{selection.escaped(str(source))}: the source folder cannot be opened ({error.strerror})"]
    also = also or {}
    kinds = ("sha256", *also)
    with folders, contextlib.ExitStack() as files:
        outputs = [files.enter_context(open(target, "w", encoding="utf-8", errors="surrogateescape"))
                   for target in (sums_file, *also.values())]
        for path, walked in selection.listed(file_list):
            relative = os.fsdecode(path)
            try:
                digests = _hash_as_walked(folders, path, walked, kinds, progress)
            except NotAsListed as why:
                problems.append(f"{selection.escaped(relative)}: {why}")
                continue
            for output, digest in zip(outputs, digests, strict=True):
                output.write(f"{digest}  {relative}\n")
            hashed += 1
    return hashed, problems


def _hash_as_walked(folders: "_SourceFolders", path: bytes, walked: selection.Walked | None, kinds: tuple[str, ...],
                    progress) -> list[str]:
    """The digests (of `kinds`) of the very file the walk saw at `path`, read through one descriptor (the path may
    change meanwhile; the descriptor does not); NotAsListed when that file is not there as it was."""
    if walked is None:
        raise NotAsListed("was not recorded when the source was walked, so it cannot be told from a swapped file")
    parent, _, name = path.rpartition(b"/")
    try:
        descriptor = os.open(name, _NO_SURPRISES, dir_fd=folders.open(parent))
    except OSError as error:
        raise NotAsListed(_OPEN_ERRORS.get(error.errno, f"cannot be hashed ({error.strerror})")) from None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode):
            raise NotAsListed("changed since it was listed (no longer a regular file)")
        if (found.st_dev, found.st_ino) != (walked.device, walked.inode):
            raise NotAsListed("changed since it was listed (another file is in its place)")
        if found.st_size != walked.size:
            raise NotAsListed(f"changed since it was listed ({walked.size} bytes then, {found.st_size} now)")
        digests = _digests_of_descriptor(descriptor, walked.size, kinds, progress)
        after = os.fstat(descriptor)
    except OSError as error:
        raise NotAsListed(f"cannot be hashed ({error.strerror})") from None
    finally:
        os.close(descriptor)
    if (found.st_size, found.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise NotAsListed("changed while being hashed")
    return digests


def _digests_of_descriptor(descriptor: int, size: int, kinds: tuple[str, ...], progress) -> list[str]:
    """Read exactly `size` bytes in 1 MiB chunks: a file that grows is never read past what was selected."""
    digests, remaining = [hashlib.new(kind) for kind in kinds], size
    while remaining:
        chunk = os.read(descriptor, min(CHUNK, remaining))
        if not chunk:
            raise NotAsListed("changed while being hashed")
        for digest in digests:
            digest.update(chunk)
        remaining -= len(chunk)
        progress()
    return [digest.hexdigest() for digest in digests]


READ_ONLY = "the source is read-only"


def delete_if_unchanged(source: Path, sums_file: Path, progress=lambda: None) -> dict:
    """Delete each file `sums_file` lists below `source` whose content still has the listed sha256: read through a
    descriptor opened without following links, and unlinked by name from its folder's descriptor only while that
    name still is the very file that was read, unchanged. {"deleted": [path], "kept": [[path, why]]}; on a source
    mounted read-only nothing is read, each is kept as READ_ONLY."""
    listed = parse(sums_file.read_text(encoding="utf-8", errors="surrogateescape"))
    try:
        folders = _SourceFolders(source)
        read_only = bool(os.statvfs(source).f_flag & os.ST_RDONLY)
    except OSError as error:
        return {"deleted": [], "kept": [[path, f"the source cannot be opened ({error.strerror})"] for path in listed]}
    if read_only:
        return {"deleted": [], "kept": [[path, READ_ONLY] for path in listed]}
    deleted, kept = [], []
    with folders:
        for path, digest in listed.items():
            parent, _, name = os.fsencode(path).rpartition(b"/")
            try:
                folder = folders.open(parent)
                why = _unchanged(folder, name, digest, progress)
                if why is None:
                    os.unlink(name, dir_fd=folder)
                    deleted.append(path)
                    continue
            except OSError as error:
                why = READ_ONLY if error.errno == errno.EROFS else _OPEN_ERRORS.get(error.errno, error.strerror)
            kept.append([path, why])
    return {"deleted": deleted, "kept": kept}


def _unchanged(folder: int, name: bytes, digest: str, progress) -> str | None:
    """None when `name` in `folder` is a regular file with sha256 `digest` and still the same file after it was
    read; else why not."""
    descriptor = os.open(name, _NO_SURPRISES, dir_fd=folder)
    try:
        before = os.fstat(descriptor)
        if not stat.S_ISREG(before.st_mode):
            return "no longer a regular file"
        try:
            now = _digests_of_descriptor(descriptor, before.st_size, ("sha256",), progress)[0]
        except NotAsListed as why:
            return str(why)
        after = os.stat(name, dir_fd=folder, follow_symlinks=False)
    finally:
        os.close(descriptor)
    same = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns) == \
        (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns)
    return None if now == digest and same else "changed since it was archived"


class _SourceFolders:
    """Descriptors of the source folder and of the folder the last file was in, the latter opened name by name
    from the source's descriptor so that no folder swapped for a link is followed. Only the last one is kept:
    files come folder by folder, and a deep tree does not run out of descriptors."""

    def __init__(self, source: Path):
        self.root = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.path, self.descriptor = b"", self.root

    def open(self, path: bytes) -> int:
        """The descriptor of the folder `path` below the source (b"": the source itself)."""
        if path != self.path:
            self._close_last()
            if path:
                self.descriptor, self.path = self._walk(path), path
        return self.descriptor

    def _walk(self, path: bytes) -> int:
        """Open `path` name by name, never through a link; only the last descriptor stays open."""
        descriptor = self.root
        try:
            for name in path.split(b"/"):
                parent, descriptor = descriptor, os.open(name, _NO_SURPRISES | os.O_DIRECTORY, dir_fd=descriptor)
                if parent != self.root:
                    os.close(parent)
        except OSError:
            if descriptor != self.root:
                os.close(descriptor)
            raise
        return descriptor

    def _close_last(self) -> None:
        if self.descriptor != self.root:
            os.close(self.descriptor)
        self.path, self.descriptor = b"", self.root

    def __enter__(self) -> "_SourceFolders":
        return self

    def __exit__(self, *exc) -> None:
        self._close_last()
        os.close(self.root)


def parse(text: str) -> dict[str, str]:
    """Path -> hex digest from SHA256SUMS text (binary-mode `*` markers accepted). Lines end at "\\n" only: a name
    may hold U+2028, U+0085 or \\x1c, which `str.splitlines` would take for line ends."""
    sums = {}
    for line in text.split("\n"):
        digest, _, path = line.partition(" ")
        if len(digest) == 64 and path:
            sums[path[1:] if path[0] in " *" else path] = digest.lower()
    return sums


def render(sums: dict[str, str]) -> str:
    return "".join(f"{sums[path]}  {path}\n" for path in sorted(sums))


def compare(sums: dict[str, str], folder: Path) -> tuple[list[str], list[str]]:
    """Check the files of a local folder against `sums`: (differing, missing) paths."""
    differ, missing = [], []
    for relative, expected in sorted(sums.items()):
        path = folder / relative
        if not path.is_file():
            missing.append(relative)
        elif sha256_of(path) != expected:
            differ.append(relative)
    return differ, missing


def sample(files: list[tuple[str, int]], count: int, max_bytes: int, rng: random.Random) -> list[str]:
    """Up to `count` randomly chosen files whose sizes add up to at most `max_bytes`."""
    chosen, total = [], 0
    for path, size in rng.sample(files, len(files)):
        if len(chosen) == count:
            break
        if total + size <= max_bytes:
            chosen.append(path)
            total += size
    return sorted(chosen)
