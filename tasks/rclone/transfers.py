"""The long operations: copying, downloading and comparing whole file lists, watched for progress, not timed."""

import json
import logging
from pathlib import Path

from .errors import RcloneError, describe, redact
from .outcomes import CheckOutcome, CopyOutcome, read_check
from .runner import Runner


class Transfers(Runner):
    """Operations that run as long as they make progress (`stall_timeout`), however many files they touch."""

    def download(self, path: str, target: Path, file_list: Path | None = None, progress: bool = False) -> None:
        """Copy a remote folder (or the listed files of it) into a local folder."""
        args = ["copy", path, str(target)] + (["--files-from-raw", str(file_list)] if file_list else [])
        if progress:  # rclone draws its own progress on the terminal
            returncode = self._start(self._command(*args, "--progress")).wait()
            if returncode != 0:
                raise RcloneError(f"download of {redact(path)} failed (rclone exit {returncode})", returncode)
            return
        result = self._watched(*args)
        if result.returncode != 0:
            raise self._fail(result, f"download of {redact(path)} failed")

    def check(self, source: Path, destination: str, file_list: Path, download: bool, report: Path) -> CheckOutcome:
        """Compare the listed files of `source` with `destination`: by hash where both have one, else by size."""
        args = ["check", str(source), destination, "--one-way", "--files-from-raw", str(file_list)]
        return self._compare(args + (["--download"] if download else []), report)

    def checksum(self, sum_file: Path, folder: str, download: bool, report: Path) -> CheckOutcome:
        """Compare the files of a remote folder with a SHA256SUMS file (downloading them if the remote cannot)."""
        args = ["checksum", "sha256", str(sum_file), folder, "--one-way"]
        return self._compare(args + (["--download"] if download else []), report)

    def _compare(self, args: list[str], report: Path) -> CheckOutcome:
        result = self._watched(*args, "--combined", str(report))
        logging.getLogger("backup.rclone").debug("rclone %s: %s", args[0], redact(result.stderr))
        outcome = read_check(report.read_text(encoding="utf-8", errors="surrogateescape"), result.stderr)
        if result.returncode != 0 and outcome.clean:  # failed without naming a single file: it never compared
            raise self._fail(result, "rclone could not compare")
        return outcome

    def copy(self, source: Path, destination: str, file_list: Path, log: logging.Logger) -> CopyOutcome:
        """Copy exactly the files named in `file_list` (paths relative to `source`) into `destination`.

        As long as it takes while it makes progress. Each rclone log line goes to `log` at debug level.
        """
        counts = {"copied": 0, "replaced": 0}
        stats, messages = {}, []

        def on_entry(entry: dict) -> None:
            if log.isEnabledFor(logging.DEBUG):  # dumping and redacting every line costs ~0.5 s per 25k files
                log.debug("rclone: %s", redact(json.dumps(entry, ensure_ascii=False)))
            message = entry.get("msg", "")
            if "stats" in entry:
                stats.update(entry["stats"])
            elif message.startswith("Copied ("):
                counts["copied"] += 1
                counts["replaced"] += "replaced existing" in message
            elif entry.get("level") in ("error", "critical") and not message.startswith("Attempt "):
                described = describe(entry)
                if described not in messages and len(messages) < 10:
                    messages.append(described)

        try:
            returncode = self._watched("copy", str(source), destination, "--files-from-raw", str(file_list), "-v",
                                       *self.settings.flags, on_entry=on_entry).returncode
        except RcloneError as error:  # stopped by the watchdog
            returncode = -1
            messages.append(str(error))
        return CopyOutcome(returncode=returncode, copied=counts["copied"], replaced=counts["replaced"],
                           checks=int(stats.get("checks", 0)), bytes=int(stats.get("bytes", 0)),
                           errors=int(stats.get("errors", 0)), messages=tuple(messages))
