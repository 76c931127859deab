"""The long operations: copying, downloading and comparing whole file lists, watched for progress and bounded by
the run's deadline, not timed."""

import json
import logging
from pathlib import Path

from .errors import RcloneError, describe, redact
from .outcomes import CheckOutcome, CopyOutcome, SizeCap, SourceGrew, read_check
from .runner import Runner

#: rclone's exit code when it stopped at --max-transfer.
MAX_TRANSFER_REACHED = 8

#: The exit code a copy reports when the watchdog stopped it (stalled, or the run's time limit).
STOPPED = -1

#: Added to rclone's own --max-transfer: with --cutoff-mode=hard rclone 1.75.2 refuses a file of exactly the cap
#: and wanted up to ~0.5 KiB more for some sizes. The exact cap is SizeCap's; rclone's is the hard backstop.
CAP_SLACK = 1024 * 1024

#: How often rclone reports its counters when they are shown to a person (else: from the stall timeout).
PROGRESS_STATS_SECONDS = 2


class Transfers(Runner):
    """Operations that run as long as they make progress (`stall_timeout`), however many files they touch."""

    def download(self, path: str, target: Path, file_list: Path | None = None, progress=None) -> None:
        """Copy a remote folder (or the listed files of it) into a local folder; `progress(stats)` sees rclone's
        counters every PROGRESS_STATS_SECONDS (rclone's own `--progress` would put its raw log on the terminal)."""
        args = ["copy", path, str(target)] + (["--files-from-raw", str(file_list)] if file_list else [])
        result = self._watched(*args, on_entry=_stats_to(progress),
                               stats_seconds=PROGRESS_STATS_SECONDS if progress else None)
        if result.returncode != 0:
            raise self._fail(result, f"download of {redact(path)} failed")

    def check(self, source: Path, destination: str, file_list: Path, download: bool, report: Path) -> CheckOutcome:
        """Compare the listed files of `source` with `destination`: by hash where both have one, else by size."""
        args = ["check", str(source), destination, "--one-way", "--files-from-raw", str(file_list)]
        return self._compare(args + (["--download"] if download else []), report)

    def checksum(self, sum_file: Path, folder: str, download: bool, report: Path,
                 hash_type: str = "sha256") -> CheckOutcome:
        """Compare the files of a remote folder with a sums file of `hash_type` (downloading them if asked)."""
        args = ["checksum", hash_type, str(sum_file), folder, "--one-way"]
        return self._compare(args + (["--download"] if download else []), report)

    def _compare(self, args: list[str], report: Path) -> CheckOutcome:
        result = self._watched(*args, "--combined", str(report))
        logging.getLogger("backup.rclone").debug("rclone %s: %s", args[0], redact(result.stderr))
        outcome = read_check(report, result.stderr)
        if result.returncode != 0 and outcome.clean:  # failed without naming a single file: it never compared
            raise self._fail(result, "rclone could not compare")
        return outcome

    def copy(self, source: Path, destination: str, file_list: Path, log: logging.Logger,
             max_bytes: int | None = None, progress=None, copy_dest: str | None = None,
             no_check_dest: bool = False, ignore_existing: bool = False) -> CopyOutcome:
        """Copy exactly the files named in `file_list` (paths relative to `source`) into `destination`.

        As long as it takes while it makes progress. Each rclone log line goes to `log` at debug level;
        `progress(stats)` sees rclone's counters every PROGRESS_STATS_SECONDS at least.
        `max_bytes` (what was selected): more is refused with exit code 8 (MAX_TRANSFER_REACHED), and stopped
        as soon as it shows, so a listed file swapped for a bigger one since the walk is never sent whole.
        `copy_dest`: a folder on the same remote whose files of the same size and modtime are copied on the server
        instead of uploaded. `no_check_dest`: upload every listed file, whatever the destination holds (for a
        remote that can compare neither hashes nor modtimes, where rclone would keep an edited file of equal size).
        `ignore_existing`: never replace a file the destination has (an archive).
        """
        counts = {"copied": 0, "replaced": 0}
        stats, messages = {}, []
        cap = SizeCap(max_bytes) if max_bytes is not None else None
        show = _stats_to(progress)

        def on_entry(entry: dict) -> None:
            if log.isEnabledFor(logging.DEBUG):  # dumping and redacting every line costs ~0.5 s per 25k files
                log.debug("rclone: %s", redact(json.dumps(entry, ensure_ascii=False)))
            message = entry.get("msg", "")
            if "stats" in entry:
                stats.update(entry["stats"])
                show(entry)
            elif message.startswith("Copied ("):
                counts["copied"] += 1
                counts["replaced"] += "replaced existing" in message
            elif entry.get("level") in ("error", "critical") and not message.startswith("Attempt "):
                described = describe(entry)
                if described not in messages and len(messages) < 10:
                    messages.append(described)
            if cap:
                cap.see(entry)

        limits = []
        if cap:  # bytes, not rclone's default KiB; stats every second so the cap reacts within a second
            limits = ["--max-transfer", f"{max_bytes + CAP_SLACK}B", "--cutoff-mode=hard"]
        limits += [f"--copy-dest={copy_dest}"] if copy_dest else []
        limits += ["--no-check-dest"] if no_check_dest else []
        limits += ["--ignore-existing"] if ignore_existing else []
        try:
            returncode = self._watched("copy", str(source), destination, "--files-from-raw", str(file_list), "-v",
                                       *self.settings.flags, *limits, on_entry=on_entry,
                                       stats_seconds=1 if cap else PROGRESS_STATS_SECONDS if progress else None
                                       ).returncode
        except RcloneError as error:  # stopped by the watchdog
            returncode = STOPPED
            messages.append(str(error))
        except SourceGrew as error:
            returncode = MAX_TRANSFER_REACHED
            messages.insert(0, str(error))
        else:
            if cap and (returncode == MAX_TRANSFER_REACHED or cap.landed > max_bytes):
                returncode = MAX_TRANSFER_REACHED
                messages.insert(0, cap.message(stopped_by_rclone=cap.landed <= max_bytes))
        return CopyOutcome(returncode=returncode, copied=counts["copied"], replaced=counts["replaced"],
                           checks=int(stats.get("checks", 0)), bytes=int(stats.get("bytes", 0)),
                           errors=int(stats.get("errors", 0)), messages=tuple(messages),
                           server_side_copies=int(stats.get("serverSideCopies", 0)),
                           server_side_bytes=int(stats.get("serverSideCopyBytes", 0)))


def _stats_to(progress):
    """An on_entry that hands rclone's stats objects to `progress` (None: a callback that does nothing)."""
    def on_entry(entry: dict) -> None:
        if progress and isinstance(entry.get("stats"), dict):
            progress(entry["stats"])
    return on_entry
