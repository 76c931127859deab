"""Entry point of the child processes that touch a source (see tasks.watchdog): `python -m tasks.child WORK JSON`.

    probe   is the source a readable, non-empty folder?
    select  walk the source and write the file list
    hash    sha256 of every listed file, exactly as the walk saw it, written to a sums file
"""

import json
import sys
from pathlib import Path

from tasks import integrity, selection
from tasks.watchdog import Heartbeat, reply


def probe(payload: dict) -> dict:
    return selection.probe(Path(payload["source"]))


def select(payload: dict) -> dict:
    chosen = selection.select(Path(payload["source"]), payload["newer_than"], tuple(payload["exclude"]),
                              Path(payload["list_file"]), progress=Heartbeat())
    return chosen.as_dict()


def hash_files(payload: dict) -> dict:
    hashed, problems = integrity.hash_listed(Path(payload["source"]), Path(payload["list_file"]),
                                             Path(payload["sums_file"]), progress=Heartbeat())
    return {"hashed": hashed, "problems": problems}


WORK = {"probe": probe, "select": select, "hash": hash_files}

if __name__ == "__main__":
    reply(WORK[sys.argv[1]](json.loads(sys.argv[2])))
