"""How far each backup's walk, copy and hashing got, for a person watching a terminal.

Only when stderr is a terminal: under cron or systemd nothing is printed, so the mail stays the summary. Plain
lines named by the backup, at most one every SCREEN_SECONDS per backup: several backups at once (`doit -n 4`)
stay readable, which a rewritten (`\\r`) line would not. Activities that run together (the copy and the hashing)
share one line. The log file gets the same line at INFO at most every LOG_SECONDS, so a run stopped at its time
limit shows how far it got and how fast; a backup shorter than that logs none. Never in the result files.
"""

import contextlib
import math
import sys
import threading
import time

from tasks import render
from tasks.summary import format_bytes, format_duration

SCREEN_SECONDS = 2.0
LOG_SECONDS = 60.0
#: An activity not heard of for this long (ended, or stalled) is left out of the line.
STALE_SECONDS = 10.0
#: An activity shorter than this is not worth a line ("listing: 0 files so far" for a walk that takes 50 ms).
QUIET_SECONDS = 1.0


class Progress:
    """The progress line of one backup: the latest text of each of its running activities."""

    def __init__(self, name: str, log, stream=None, clock=time.monotonic):
        self.name, self.log, self.stream, self.clock = name, log, stream, clock
        self._parts: dict[str, tuple[float, float, str]] = {}  # activity -> (started, last heard, its text)
        self._lock = threading.Lock()
        self._shown, self._logged = -math.inf, clock()

    def update(self, activity: str, text: str) -> None:
        with self._lock:
            now = self.clock()
            started = self._parts.get(activity, (now,))[0]
            self._parts[activity] = (started, now, text)
            line = "; ".join(text for started, heard, text in self._parts.values()
                             if now - started >= QUIET_SECONDS and now - heard < STALE_SECONDS)
            show = bool(line) and self.stream is not None and now - self._shown >= SCREEN_SECONDS
            log = bool(line) and now - self._logged >= LOG_SECONDS
            self._shown, self._logged = (now if show else self._shown), (now if log else self._logged)
        if show:
            with _printing:
                try:
                    self.stream.write(f"{render.printable(self.name)}: {render.printable(line)}\n")
                    self.stream.flush()
                except (OSError, ValueError):  # a terminal closed meanwhile must not stop the backup
                    self.stream = None
        if log:
            self.log.info("progress: %s", line, extra={"printed": True})  # not again on the console

    @contextlib.contextmanager
    def showing(self, activity: str):
        """`with progress.showing("copy") as show: ... show(text)`: the activity's text leaves the line when it
        ends."""
        self._start(activity)
        try:
            yield lambda text: self.update(activity, text)
        finally:
            with self._lock:
                self._parts.pop(activity, None)

    def transfer(self, verb: str):
        """A callback for rclone's stats (tasks.rclone: copy, download) that shows them as `verb`; the transfer
        starts now, its first stats come an interval later."""
        self._start(verb)
        return lambda stats: self.update(verb, transferring(verb, stats))

    def _start(self, activity: str) -> None:
        with self._lock:
            self._parts[activity] = (self.clock(), -math.inf, "")  # not heard of yet: not in the line


_printing = threading.Lock()
_registry: dict[str, Progress] = {}
_registry_lock = threading.Lock()


def of(job) -> Progress:
    """The one Progress of `job`'s backup in this process, so that its copy and its hashing (threads of one task)
    share a line. It prints only when stderr is a terminal."""
    with _registry_lock:
        if job.backup.name not in _registry:
            stream = sys.__stderr__  # not sys.stderr: doit swaps that per action, across threads
            terminal = stream is not None and stream.isatty()
            _registry[job.backup.name] = Progress(job.backup.name, job.log, stream if terminal else None)
        return _registry[job.backup.name]


def listing(files: int) -> str:
    return f"listing: {files:,} files so far"


def hashing(files: int, done: int, total_files: int, total_bytes: int) -> str:
    return f"hashing {files:,} of {total_files:,} files ({format_bytes(done)} of {format_bytes(total_bytes)})"


def transferring(verb: str, stats: dict) -> str:
    """`copying 120.0 MiB of 240.0 MiB, 20.0 MiB/s, 6 s left`, from rclone's stats object."""
    done, total = int(stats.get("bytes") or 0), int(stats.get("totalBytes") or 0)
    text = f"{verb} {format_bytes(done)}" + (f" of {format_bytes(total)}" if total else "")
    text += f", {format_bytes(int(stats.get('speed') or 0))}/s"
    eta = stats.get("eta")
    if isinstance(eta, (int, float)) and total:
        text += f", {left(eta)} left"
    return text


def left(seconds: float) -> str:
    return f"{int(seconds)} s" if seconds < 60 else format_duration(seconds)
