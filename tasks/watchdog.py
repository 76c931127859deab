"""Run work that touches a source or a remote in a child process that must keep showing progress.

A hung Samba or USB mount blocks the process that touches it inside the kernel, where no timeout reaches. So the
walk, the hashing and rclone run as children: the parent watches their output, and a child that shows no progress
for the stall time is killed and abandoned (never waited for: a process stuck on a dead mount may never die).
Children also die with the parent (PR_SET_PDEATHSIG), so a killed run leaves no rclone behind to race the next one.
"""

import ctypes
import json
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class Stalled(Exception):
    """The child showed no progress for the stall time and was killed."""


def die_with_parent() -> None:
    """preexec_fn for children: the kernel sends SIGTERM when the thread that started them ends."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent, **kwargs)


def lines(process: subprocess.Popen, stream, stall_seconds: float, progress_of=None):
    """Yield the lines `stream` of `process` prints; kill it when no line shows progress for `stall_seconds`.

    `progress_of(line)` returns a value that changes when the child made progress (default: every line counts).
    """
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    last_progress, last_value = time.monotonic(), object()
    pending = b""
    try:
        while True:
            if selector.select(timeout=1.0):
                chunk = stream.read1(65536)
                if not chunk:
                    if pending:
                        yield pending.decode("utf-8", "replace")
                    return
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    line = raw.decode("utf-8", "replace")
                    value = progress_of(line) if progress_of else object()
                    if value != last_value:
                        last_value, last_progress = value, time.monotonic()
                    yield line
            if time.monotonic() - last_progress > stall_seconds:
                process.kill()
                raise Stalled(f"no progress for {stall_seconds:g} s")
    finally:
        selector.close()


HEARTBEAT = "."
RESULT = "RESULT "


def run_child(work: str, payload: dict, stall_seconds: float) -> dict:
    """Run `python -m tasks.child WORK PAYLOAD`; it prints HEARTBEAT lines while working and one RESULT line."""
    process = start([sys.executable, "-E", "-s", "-m", "tasks.child", work, json.dumps(payload)],
                    cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = None
    for line in lines(process, process.stdout, stall_seconds):
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT):])
    process.wait()
    if process.returncode != 0 or result is None:
        error = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"{work} failed: {error[-1] if error else f'exit {process.returncode}'}")
    return result


class Heartbeat:
    """For the child side: print a HEARTBEAT line at most every `interval` seconds."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            print(HEARTBEAT, flush=True)


def reply(result: dict) -> None:
    print(RESULT + json.dumps(result), flush=True)
