"""SHA256SUMS: computing, reading, writing and checking the checksum file every dated folder carries.

The format is the one `sha256sum -c` reads: `<64 hex digits>  <path relative to the folder>`, one file a line.
A folder gets its SHA256SUMS last, after its copy was verified: a folder without one is incomplete.
"""

import hashlib
import os
import random
from pathlib import Path

from tasks import selection

SUMS_NAME, HMAC_NAME = selection.RESERVED_NAMES
CHUNK = 1024 * 1024


def sha256_of(path: Path, progress=lambda: None) -> str:
    """Hash in 1 MiB chunks: a file is never read into memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            progress()
    return digest.hexdigest()


def hash_listed(source: Path, file_list: Path, sums_file: Path, progress=lambda: None) -> tuple[int, list[str]]:
    """Write the sha256 of each file named in `file_list` to `sums_file` (SHA256SUMS format, streamed: memory
    stays flat); return how many were hashed, and the files that vanished or changed while being hashed.

    `progress` is called for every MiB read, so a watchdog can tell slow hashing from a hung source."""
    hashed, problems = 0, []
    with open(file_list, encoding="utf-8", errors="surrogateescape") as listing, \
            open(sums_file, "w", encoding="utf-8", errors="surrogateescape") as sums:
        for line in listing:
            relative = line.rstrip("\n")
            path = source / relative
            try:
                before = os.stat(path)
                digest = sha256_of(path, progress)
                after = os.stat(path)
            except OSError as error:
                problems.append(f"{relative}: cannot be hashed ({error.strerror})")
                continue
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                problems.append(f"{relative}: changed while being hashed")
                continue
            sums.write(f"{digest}  {relative}\n")
            hashed += 1
    return hashed, problems


def parse(text: str) -> dict[str, str]:
    """Path -> hex digest from SHA256SUMS text (binary-mode `*` markers accepted)."""
    sums = {}
    for line in text.splitlines():
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
