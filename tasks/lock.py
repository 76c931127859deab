"""One run at a time: an exclusive lock on `var/run.lock`, held by the doit process until it exits.

The kernel releases the lock when the process ends, however it ends (even SIGKILL), so a crashed run never
blocks the next one. The lock file is never opened through a symbolic link, nor when it is another user's file
or has a second name, and its folder (the state folder) is refused when another user owns it or others may write
it: the job runs as root, and it truncates the lock file it opens.
"""

import fcntl
import os
import time
from pathlib import Path

from tasks import file_safety

_held: list[int] = []   # the open descriptor keeps the lock for the life of the process


class LockHeld(Exception):
    """The run cannot take the lock: another run holds it, or the lock file or its folder cannot be trusted."""


def acquire(path: Path, wait_seconds: float) -> None:
    if _held:
        return
    try:
        file_safety.private_folder(path.parent, "state folder")
        descriptor = file_safety.open_private(path, os.O_RDWR | os.O_CREAT, "lock file")
    except file_safety.Unsafe as error:
        raise LockHeld(f"{error}; this run did nothing") from None
    except OSError as error:
        raise LockHeld(f"cannot open the lock file {path}: {error.strerror or error}; this run did nothing") from None
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
