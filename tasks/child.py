"""Entry point of the child processes that touch a source (see tasks.watchdog): `python -m tasks.child WORK JSON`.

    probe   is the source a readable, non-empty folder?
    select  walk the source and write the file list
    hash    sha256 of every listed file, exactly as the walk saw it, written to a sums file
    delete_archived   delete the listed files whose content still has the sha256 their archived copies have

The heartbeats of `select` and `hash` carry how far they got, for the parent to show a person on a terminal.
"""

import json
import os
import sys
from pathlib import Path

from tasks import integrity, selection
from tasks.watchdog import Heartbeat, reply


def probe(payload: dict) -> dict:
    """What a source folder looks like: missing, not a folder, unreadable, empty, or ok (and whether it is a
    mount point). Run in a child process: on a hung mount this blocks."""
    source = Path(payload["source"])
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


class ListedSoFar:
    """Files the walk has listed so far: the lines of the list file it is writing, read on from where the last
    count stopped (the walk's own counters are out of reach; this lags by its write buffer at most)."""

    def __init__(self, list_file: Path):
        self.list_file, self.offset, self.files = list_file, 0, 0

    def __call__(self) -> tuple[int]:
        try:
            descriptor = os.open(self.list_file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return (self.files,)
        with open(descriptor, "rb") as listing:
            listing.seek(self.offset)
            while chunk := listing.read(1 << 20):
                self.files += chunk.count(b"\n")
                self.offset += len(chunk)
        return (self.files,)


class HashedSoFar:
    """Files and bytes hashed so far, from the progress calls alone: hashing calls once per chunk
    (integrity.CHUNK) read of each listed file, in the list's order, and the walk recorded every size."""

    def __init__(self, list_file: Path):
        self.sizes = (walked.size if walked else 0 for _, walked in selection.listed(list_file))
        self.files, self.bytes, self.left = 0, 0, 0  # left: bytes of the file being hashed still to read

    def __call__(self) -> None:
        while not self.left:
            size = next(self.sizes, None)
            if size is None:  # more reads than listed: a file changed; the counts stay as they are
                return
            self.files += size == 0  # an empty file is hashed without a read
            self.left = size
        read = min(integrity.CHUNK, self.left)
        self.left -= read
        self.bytes += read
        self.files += not self.left

    def count(self) -> tuple[int, int]:
        return self.files, self.bytes


def select(payload: dict) -> dict:
    list_file = Path(payload["list_file"])
    chosen = selection.select(Path(payload["source"]), payload["newer_than"], tuple(payload["exclude"]),
                              list_file, progress=Heartbeat(count=ListedSoFar(list_file)),
                              markers=tuple(payload.get("markers", ())))
    return chosen.as_dict()


def hash_files(payload: dict) -> dict:
    counted = HashedSoFar(Path(payload["list_file"]))
    heartbeat = Heartbeat(count=counted.count)

    def progress() -> None:
        counted()
        heartbeat()

    hashed, problems = integrity.hash_listed(Path(payload["source"]), Path(payload["list_file"]),
                                             Path(payload["sums_file"]), progress=progress,
                                             also={kind: Path(path) for kind, path in payload.get("also", {}).items()})
    return {"hashed": hashed, "problems": problems}


def delete_archived(payload: dict) -> dict:
    return integrity.delete_if_unchanged(Path(payload["source"]), Path(payload["sums_file"]), progress=Heartbeat())


WORK = {"probe": probe, "select": select, "hash": hash_files, "delete_archived": delete_archived}

if __name__ == "__main__":
    reply(WORK[sys.argv[1]](json.loads(sys.argv[2])))
