"""The one place that runs restic and reads its JSON and exit codes.

The repository's password reaches restic through a file only this user can read (RESTIC_PASSWORD_FILE, removed
after each call), never a command line; a repository on an rclone remote (`rclone:remote:path`) is reached through
the backup's own rclone binary and config; restic's cache lives in the state folder (under systemd the home folder
is read-only). Every call is watched like rclone's: a call that shows no output for the stall time, or runs into
the run's deadline, is stopped.
"""

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from tasks import watchdog
from tasks.config_backups import Backup
from tasks.rclone import is_local, redact
from tasks.tool_errors import ToolError

#: restic's "could not read some source files": the snapshot was made without them.
INCOMPLETE = 3
#: The oldest restic this works with: Debian bookworm's (JSON summaries, `check --read-data-subset`,
#: `restore --verify`, rclone repositories).
MINIMUM_VERSION = (0, 14, 0)


class ResticError(ToolError):
    """restic refused or failed; the message is restic's own words (never the password); `missing`: there is no
    repository."""

    def __init__(self, message: str, needs_action: bool = False, missing: bool = False):
        super().__init__(message, needs_action)
        self.missing = missing


def repository(backup: Backup) -> str:
    """`rclone:remote:path` for a remote, the folder itself for a local path."""
    return backup.rclone_path if is_local(backup.rclone_path) else f"rclone:{backup.rclone_path}"


class Restic:
    """restic on one backup's repository at one destination."""

    def __init__(self, backup: Backup, password: str, state_dir: Path, stall_seconds: float,
                 deadline: float | None):
        self.backup, self.password, self.state_dir = backup, password, state_dir
        self.stall_seconds, self.deadline = stall_seconds, deadline

    def version(self) -> tuple[str, tuple[int, ...]]:
        """('0.14.0', (0, 14, 0)) from `restic version`."""
        text = self._run("version", repository_call=False)
        found = re.search(r"restic (\d+)\.(\d+)\.(\d+)", text)
        if not found:
            raise ResticError(f"`{self.backup.restic.binary} version` answered {text.strip()[:80]!r}")
        return ".".join(found.groups()), tuple(int(part) for part in found.groups())

    def init(self) -> None:
        self._run("init")

    def locks(self) -> list[dict]:
        """Every lock in the repository: its id (the file name under `locks/`), time, hostname, pid, exclusive."""
        found = []
        for lock_id in self._run("list", "locks", "--no-lock").split():
            with contextlib.suppress(ResticError, json.JSONDecodeError):  # a lock removed meanwhile
                found.append({**json.loads(self._run("cat", "lock", lock_id, "--no-lock")), "id": lock_id})
        return found

    def backup_folder(self, source: Path, tags: list[str], host: str, dry_run: bool = False) -> dict:
        """A snapshot of `source` with the entry's excludes and markers, its files at the snapshot's top (taken
        from inside it, as `.`, so a restore gives back the folder's content, not its path); restic's JSON summary,
        plus `incomplete` when some source files could not be read."""
        args = ["backup", "--json", "--host", host, *(f"--tag={tag}" for tag in tags),
                *(f"--exclude={pattern}" for pattern in self.backup.exclude),
                *(f"--exclude-if-present={name}" for name in self.backup.exclude_if_present),
                *(["--dry-run"] if dry_run else []), "."]
        summary, errors = {}, []

        def on_line(line: str) -> None:
            with contextlib.suppress(json.JSONDecodeError):
                message = json.loads(line)
                if message.get("message_type") == "summary":
                    summary.update(message)
                elif message.get("message_type") == "error":
                    errors.append(f"{message.get('item', '')}: {message.get('error', {}).get('message', '')}")

        returncode, stderr = self._watched(args, on_line, stall=True, cwd=source)
        if returncode not in (0, INCOMPLETE) or not summary:
            raise _error(stderr, returncode)
        return {**summary, "incomplete": returncode == INCOMPLETE, "errors": errors[:20]}

    def forget(self, tags: list[str], host: str, keep: dict[str, int]) -> tuple[list[str], int]:
        """Apply the keep rules to this backup's snapshots and prune what they drop; the ids removed, and how many
        snapshots are kept."""
        rules = [f"--keep-{rule}={count}" for rule, count in keep.items() if count]
        text = self._run("forget", "--json", "--prune", "--host", host, "--group-by", "host,tags",
                         *(f"--tag={tag}" for tag in tags), *rules)
        removed, kept = [], 0
        for line in text.splitlines():  # the JSON list; prune's own report follows it as text
            with contextlib.suppress(json.JSONDecodeError, TypeError, AttributeError):
                groups = json.loads(line)
                removed += [snapshot["short_id"] for group in groups for snapshot in group.get("remove") or ()]
                kept += sum(len(group.get("keep") or ()) for group in groups)
        return removed, kept

    def check(self, read: str) -> None:
        """`restic check`: the structure only (`read` ""), every byte of the data ("all"), or a share of it
        (`n/t`, `x%` or a size)."""
        self._run("check", *(() if not read else ("--read-data",) if read == "all" else
                             (f"--read-data-subset={read}",)))

    def stats(self) -> dict:
        return json.loads(self._run("stats", "--json", "--mode", "raw-data", "--no-lock"))

    def snapshots(self, tags: list[str]) -> list[dict]:
        return json.loads(self._run("snapshots", "--json", "--no-lock", *(f"--tag={tag}" for tag in tags)))

    def files(self, snapshot: str) -> list[tuple[str, int]]:
        """(path, size) of every file in `snapshot`."""
        found = []
        for line in self._run("ls", "--json", "--no-lock", snapshot).splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                node = json.loads(line)
                if node.get("struct_type") == "node" and node.get("type") == "file":
                    found.append((node["path"], int(node.get("size", 0))))
        return found

    def restore(self, snapshot: str, target: Path, includes: list[str] | None = None) -> None:
        """Restore `snapshot` (or the `includes` of it) into `target`, each file checked against the snapshot's
        own content hashes (`--verify`)."""
        self._run("restore", snapshot, "--target", str(target), "--verify",
                  *(f"--include={path}" for path in includes or ()))

    def _run(self, *args: str, repository_call: bool = True) -> str:
        out = []
        returncode, stderr = self._watched(list(args), out.append, repository_call)
        if returncode != 0:
            raise _error(stderr, returncode)
        return "\n".join(out)

    def _watched(self, args: list[str], on_line, repository_call: bool = True, stall: bool = False,
                 cwd: Path | None = None) -> tuple[int, str]:
        """Run restic, never past the run's deadline; (exit code, its stderr). `stall`: also stopped when it
        prints nothing for the stall time (only `backup --json` reports as it goes; a check or a prune may think
        for long in silence)."""
        settings = self.backup.restic
        command = [settings.binary, *args]
        with self._password_file() as password_file, tempfile.TemporaryFile() as errors:
            if repository_call:
                command[1:1] = ["--repo", repository(self.backup), "--cache-dir",
                                str(self.state_dir / "restic-cache"), "-o",
                                f"rclone.program={self.backup.rclone.binary}"]
            extra = {"RESTIC_PASSWORD_FILE": password_file}
            if self.backup.rclone.config:
                extra["RCLONE_CONFIG"] = self.backup.rclone.config
            try:
                process = watchdog.start(command, env=watchdog.child_environment(extra), stdout=-1, stderr=errors,
                                         cwd=cwd)
            except FileNotFoundError:
                raise ResticError(f"{settings.binary} is not installed (Debian: apt install restic), or set "
                                  "restic.binary", needs_action=True) from None
            try:
                quiet_for = self.stall_seconds if stall else float("inf")
                for line in watchdog.lines(process, process.stdout, quiet_for, deadline=self.deadline):
                    on_line(line)
            except watchdog.Stalled as error:
                raise ResticError(f"restic {args[0]} was stopped: {error}", needs_action=True) from None
            process.wait()
            errors.seek(0)
            return process.returncode, errors.read().decode("utf-8", "replace")

    @contextlib.contextmanager
    def _password_file(self):
        descriptor, path = tempfile.mkstemp(dir=self.state_dir, prefix=".restic-", suffix=".pass")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(self.password)
            yield path
        finally:
            Path(path).unlink(missing_ok=True)


def _error(stderr: str, returncode: int) -> ResticError:
    """restic's last words, e.g. `Fatal: wrong password or no key found`; a missing repository is told apart."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = next((line for line in reversed(lines) if line.startswith("Fatal:")), lines[0] if lines else "")
    message = redact(fatal.removeprefix("Fatal: ")) or f"restic exit {returncode}"
    missing = "Is there a repository" in stderr or "unable to open config file" in stderr
    wrong_password = "wrong password" in stderr
    return ResticError(message, needs_action=missing or wrong_password, missing=missing)
