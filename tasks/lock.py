"""One run at a time: an exclusive lock on `var/run.lock`, held by the doit process until it exits.

The kernel releases the lock when the process ends, however it ends (even SIGKILL), so a crashed run never
blocks the next one.
"""

import fcntl
import os
import time
from pathlib import Path

_held: list[int] = []   # the open descriptor keeps the lock for the life of the process


class LockHeld(Exception):
    """Another run holds the lock."""


def acquire(path: Path, wait_seconds: float) -> None:
    if _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(descriptor)
                raise LockHeld(f"another backup run is still going ({holder}); this run did nothing. "
                               f"Lock file: {path}") from None
            time.sleep(min(1.0, wait_seconds))
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    _held.append(descriptor)
