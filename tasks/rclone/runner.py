"""Running rclone: the command line every call shares, short calls within a timeout, long ones under a watchdog.

No on-the-fly remote's options ever reach a command line (any local user reads those): each becomes a remote with
a generated name, defined in the child's environment only (see onthefly), and rclone's messages show the original
remote again, redacted. Nothing runs past the run's deadline.
"""

import json
import subprocess
import tempfile
import time

from tasks import watchdog
from tasks.config import RcloneSettings

from . import onthefly
from .errors import RcloneError, explain, json_line


class Runner:
    """Starts one configured rclone (binary, config file, extra flags) and waits for it; the operations are built
    on top of this. `deadline` (a time.monotonic() value): the run's time limit, which nothing waits past."""

    def __init__(self, settings: RcloneSettings, timeout: float, stall_timeout: float = 600,
                 deadline: float | None = None):
        self.settings = settings
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self.deadline = deadline
        self._shown: dict[str, str] = {}  # generated remote name -> the remote as messages show it

    def _command(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """The command line, and the variables that define the on-the-fly remotes it names (for the child's
        environment: a command line is world-readable)."""
        environment = {}
        command = [self.settings.binary]
        for arg in args:
            flag, equals, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
            parts = onthefly.split(value)
            if parts is None:
                command.append(arg)
                continue
            backend, options, path = parts
            name, variables = onthefly.environment(backend, options)
            environment.update(variables)
            self._shown[name] = onthefly.shown(backend, options)
            command.append(f"{flag}{equals}{name}:{path}")
        command += ["--ask-password=false", "--use-json-log"]
        if self.settings.config:
            command += ["--config", self.settings.config]
        return command, environment

    def _start(self, command: tuple[list[str], dict[str, str]], **kwargs) -> subprocess.Popen:
        argv, environment = command
        if watchdog.past(self.deadline):
            raise RcloneError(f"rclone {argv[1] if len(argv) > 1 else ''} not started: {watchdog.TIME_LIMIT}")
        try:
            return watchdog.start(argv, env=watchdog.child_environment(environment), **kwargs)
        except OSError as error:
            raise RcloneError(f"cannot run rclone ({self.settings.binary}): {error.strerror}") from None

    def _left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def _readable(self, text: str, in_json: bool = False) -> str:
        """rclone's text with each generated remote name replaced by the remote it stands for, redacted."""
        for name, shown in self._shown.items():
            if name in text:
                text = text.replace(name, json.dumps(shown)[1:-1] if in_json else shown)
        return text

    def _run(self, *args: str, timeout: float | None = None, bounded: bool = True) -> subprocess.CompletedProcess:
        """Run and wait at most `timeout` seconds (`bounded=False`: as long as it takes, for a full listing), and
        never past the deadline; a hung rclone is killed and never waited for."""
        timeout = (self.timeout if timeout is None else timeout) if bounded else None
        left = self._left()
        limited_by_deadline = left is not None and (timeout is None or left < timeout)
        if limited_by_deadline:
            timeout = left
        process = self._start(self._command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace")
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            if limited_by_deadline:
                raise RcloneError(f"rclone {args[0]} stopped: {watchdog.TIME_LIMIT}") from None
            raise RcloneError(f"rclone {args[0]} gave no answer within {timeout:g} s "
                              "(network or server hung?)") from None
        return subprocess.CompletedProcess(args, process.returncode, stdout, self._readable(stderr))

    def _watched(self, *args: str, on_entry=lambda entry: None,
                 stats_seconds: int | None = None) -> subprocess.CompletedProcess:
        """Run a long operation (copy, check, download) for as long as it makes progress; stop it when its
        counters stand still for the stall time (a hung mount or server), or at the deadline. `on_entry` sees
        every log entry; what it raises stops rclone too. rclone reports its counters every `stats_seconds`."""
        interval = stats_seconds or max(1, int(self.stall_timeout // 4))
        command = self._command(*args, "--stats", f"{interval}s", "--stats-log-level", "NOTICE")
        kept = []
        with tempfile.TemporaryFile() as stdout:
            process = self._start(command, stdout=stdout, stderr=subprocess.PIPE)
            try:
                for line in watchdog.lines(process, process.stderr, self.stall_timeout, _progress, self.deadline):
                    line = self._readable(line, in_json=line.startswith("{"))
                    entry = json_line(line)
                    on_entry(entry)
                    if entry.get("level") != "info" and "stats" not in entry and len(kept) < 1000:
                        kept.append(line)
            except watchdog.DeadlineReached as error:
                raise RcloneError(f"rclone {args[0]} stopped: {error}") from None
            except watchdog.Stalled as error:
                raise RcloneError(f"rclone {args[0]} stopped after {error} (hung mount or server?)") from None
            except BaseException:
                process.kill()  # stopped by on_entry (or interrupted): never waited for, like a stalled one
                raise
            process.wait()
            stdout.seek(0)
            output = stdout.read().decode("utf-8", "replace")
        return subprocess.CompletedProcess(args, process.returncode, output, "\n".join(kept))

    def _fail(self, result: subprocess.CompletedProcess, what: str) -> RcloneError:
        message, needs_action = explain(result.stderr)
        return RcloneError(f"{what}: {message}", result.returncode, needs_action)


def _progress(line: str):
    """What counts as progress in rclone's log: the stats counters moving, or any other line. Only stats lines
    are parsed here: the per-file lines, one per file, are parsed once, by the caller."""
    if '"stats"' not in line:
        return line
    entry = json_line(line)
    stats = entry.get("stats")
    if isinstance(stats, dict):
        return tuple(stats.get(key) for key in ("bytes", "checks", "transfers", "deletes", "errors", "listed"))
    return line
