"""Run work that touches a source or a remote in a child process that must keep showing progress.

A hung Samba or USB mount blocks the process that touches it inside the kernel, where no timeout reaches. So the
walk, the hashing and rclone run as children: the parent watches their output, and a child that shows no progress
for the stall time is killed and abandoned (never waited for: a process stuck on a dead mount may never die).
Children also die with the parent (PR_SET_PDEATHSIG), so a killed run leaves no rclone behind to race the next one.
A run's deadline bounds them all, progress or not: a source swapped for /dev/zero shows progress forever.
Children get only the environment they need (`child_environment`), never the notification channels' tokens.
"""

import ctypes
import json
import os
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


TIME_LIMIT = "the run reached its time limit (run_timeout_hours)"


class DeadlineReached(Stalled):
    """The run reached its time limit and the child was killed, however much progress it showed."""

    def __init__(self, message: str = TIME_LIMIT):
        super().__init__(message)


def why_stopped(error: Stalled, source: str, doing: str) -> str:
    """`source was still being read when the run reached its time limit`, or that it stopped answering."""
    if isinstance(error, DeadlineReached):
        return f"{source} was still being {doing} when {error}"
    return f"{source} stopped answering while it was {doing} ({error}): hung network mount?"

#: What a child may inherit: locale, time zone, where home, config and temporary files are, how to reach the
#: network (proxies, CA certificates, ssh-agent), and the administrator's own rclone settings (RCLONE_*).
#: Nothing else: the environment may hold API keys and tokens of the notification channels.
CHILD_VARIABLES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
    "SSH_AUTH_SOCK", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
})
CHILD_PREFIXES = ("LC_", "RCLONE_")


def child_environment(extra: dict | None = None) -> dict:
    """The environment for a child: the allowed variables of ours, plus `extra` (e.g. a generated rclone remote)."""
    environment = {name: value for name, value in os.environ.items()
                   if name in CHILD_VARIABLES or name.startswith(CHILD_PREFIXES)}
    environment.update(extra or {})
    return environment


def die_with_parent() -> None:
    """preexec_fn for children: the kernel sends SIGTERM when the thread that started them ends."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start(command: list[str], env: dict | None = None, **kwargs) -> subprocess.Popen:
    """Start a child that dies with us, reads nothing (unless given its `stdin`), and sees `env` (default:
    `child_environment()`)."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(command, preexec_fn=die_with_parent, env=child_environment() if env is None else env,
                            **kwargs)


def past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def lines(process: subprocess.Popen, stream, stall_seconds: float, progress_of=None, deadline: float | None = None):
    """Yield the lines `stream` of `process` prints; kill it when no line shows progress for `stall_seconds`
    (Stalled), or at `deadline`, a time.monotonic() value, whatever it shows (DeadlineReached).

    `progress_of(line)` returns a value that changes when the child made progress (default: every line counts).
    """
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    last_progress, last_value = time.monotonic(), object()
    pending = b""
    try:
        while True:
            wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
            if selector.select(timeout=wait):
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
            if past(deadline):
                process.kill()
                raise DeadlineReached()
            if time.monotonic() - last_progress > stall_seconds:
                process.kill()
                raise Stalled(f"no progress for {stall_seconds:g} s")
    finally:
        selector.close()


HEARTBEAT = "."
RESULT = "RESULT "


def run_child(work: str, payload: dict, stall_seconds: float, deadline: float | None = None,
              on_count=None) -> dict:
    """Run `python -m tasks.child WORK PAYLOAD`; it prints HEARTBEAT lines while working and one RESULT line.
    Stalled when it stops showing progress, DeadlineReached at `deadline` (not even started past it).
    `on_count(*numbers)` sees the counts a heartbeat carries (`. 12345`: how far the child got), for a person."""
    if past(deadline):
        raise DeadlineReached()
    process = start([sys.executable, "-E", "-s", "-m", "tasks.child", work, json.dumps(payload)],
                    cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = None
    for line in lines(process, process.stdout, stall_seconds, deadline=deadline):
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT):])
        elif on_count and line.startswith(HEARTBEAT + " "):
            on_count(*map(int, line.split()[1:]))
    process.wait()
    if process.returncode != 0 or result is None:
        error = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"{work} failed: {error[-1] if error else f'exit {process.returncode}'}")
    return result


class Heartbeat:
    """For the child side: print a HEARTBEAT line at most every `interval` seconds, with the numbers `count()`
    returns then (how far the work got, for the parent to show); counted only when printed, so it may be slow."""

    def __init__(self, interval: float = 0.5, count=lambda: ()):
        self.interval = interval
        self.count = count
        self.last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            print(" ".join([HEARTBEAT, *map(str, self.count())]), flush=True)


def reply(result: dict) -> None:
    print(RESULT + json.dumps(result), flush=True)
