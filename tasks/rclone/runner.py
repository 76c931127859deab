"""Running rclone: the command line every call shares, short calls within a timeout, long ones under a watchdog."""

import subprocess
import tempfile

from tasks import watchdog
from tasks.config import RcloneSettings

from .errors import RcloneError, explain, json_line


class Runner:
    """Starts one configured rclone (binary, config file, extra flags) and waits for it; the operations are built
    on top of this."""

    def __init__(self, settings: RcloneSettings, timeout: float, stall_timeout: float = 600):
        self.settings = settings
        self.timeout = timeout
        self.stall_timeout = stall_timeout

    def _command(self, *args: str) -> list[str]:
        command = [self.settings.binary, *args, "--ask-password=false", "--use-json-log"]
        if self.settings.config:
            command += ["--config", self.settings.config]
        return command

    def _start(self, command: list[str], **kwargs) -> subprocess.Popen:
        try:
            return watchdog.start(command, **kwargs)
        except OSError as error:
            raise RcloneError(f"cannot run rclone ({self.settings.binary}): {error.strerror}") from None

    def _run(self, *args: str, timeout: float | None = None, bounded: bool = True) -> subprocess.CompletedProcess:
        """Run and wait at most `timeout` seconds (`bounded=False`: as long as it takes, for a full listing);
        a hung rclone is killed and never waited for."""
        timeout = (self.timeout if timeout is None else timeout) if bounded else None
        process = self._start(self._command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace")
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise RcloneError(f"rclone {args[0]} gave no answer within {timeout:g} s "
                              "(network or server hung?)") from None
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def _watched(self, *args: str, on_entry=lambda entry: None) -> subprocess.CompletedProcess:
        """Run a long operation (copy, check, download) for as long as it makes progress; stop it when its
        counters stand still for the stall time (a hung mount or server). `on_entry` sees every log entry."""
        interval = max(1, int(self.stall_timeout // 4))
        command = self._command(*args, "--stats", f"{interval}s", "--stats-log-level", "NOTICE")
        kept = []
        with tempfile.TemporaryFile() as stdout:
            process = self._start(command, stdout=stdout, stderr=subprocess.PIPE)
            try:
                for line in watchdog.lines(process, process.stderr, self.stall_timeout, _progress):
                    entry = json_line(line)
                    on_entry(entry)
                    if entry.get("level") != "info" and len(kept) < 1000:
                        kept.append(line)
            except watchdog.Stalled as error:
                raise RcloneError(f"rclone {args[0]} stopped after {error} (hung mount or server?)") from None
            process.wait()
            stdout.seek(0)
            output = stdout.read().decode("utf-8", "replace")
        return subprocess.CompletedProcess(args, process.returncode, output, "\n".join(kept))

    def _fail(self, result: subprocess.CompletedProcess, what: str) -> RcloneError:
        message, needs_action = explain(result.stderr)
        return RcloneError(f"{what}: {message}", result.returncode, needs_action)


def _progress(line: str):
    """What counts as progress in rclone's log: the stats counters moving, or any other line."""
    entry = json_line(line)
    stats = entry.get("stats")
    if isinstance(stats, dict):
        return tuple(stats.get(key) for key in ("bytes", "checks", "transfers", "deletes", "errors", "listed"))
    return line
