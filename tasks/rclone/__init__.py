"""The one place that builds rclone command lines, runs them and reads their JSON and exit codes.

Never runs `rclone config show` or `config dump`: they print tokens and passwords. No command line carries an
on-the-fly remote's options (any local user reads command lines): rclone gets them through its environment. Every
text that leaves this package (messages, displayed paths) has the option values of on-the-fly remotes masked by
`redact`.

    onthefly   on-the-fly remotes: parsed, turned into environment variables, shown redacted
    errors     RcloneError, redact, explain, known_cause: failures in plain words, free of secrets
    paths      remote_name, is_local, root_of, join
    outcomes   CopyOutcome, CheckOutcome, the streamed reading of a check report, the cap on a copy's size
    runner     starting rclone, with a timeout or under the stall watchdog, never past the run's deadline
    transfers  copy, download, check, checksum: the long operations
    here       Rclone: the short calls (probes, listings, small files) on top of those
"""

import json
import re
from pathlib import Path

from .errors import KNOWN_CAUSES, RcloneError, explain, known_cause, redact
from .outcomes import CheckOutcome, CopyOutcome
from .paths import is_local, join, remote_name, root_of
from .transfers import MAX_TRANSFER_REACHED, Transfers

__all__ = ["DIRECTORY_NOT_FOUND", "FILE_NOT_FOUND", "KNOWN_CAUSES", "MAX_TRANSFER_REACHED", "MINIMUM_VERSION",
           "CheckOutcome", "CopyOutcome", "Rclone", "RcloneError", "explain", "is_local", "join", "known_cause",
           "redact", "remote_name", "root_of"]

#: Below this, known bugs bite: OneDrive uploads fail "unauthenticated" before 1.65.1 (rclone#7405).
MINIMUM_VERSION = (1, 65, 1)

#: Exit codes rclone gives for "directory not found" and "file not found".
DIRECTORY_NOT_FOUND = 3
FILE_NOT_FOUND = 4


class Rclone(Transfers):
    """Runs one configured rclone (binary, config file, extra flags): probes within `timeout`, long operations
    while they make progress (`stall_timeout`); none past `deadline` (time.monotonic(), the run's time limit).

    `Rclone(settings, timeout, stall_timeout=600, deadline=None)`."""

    def version(self) -> tuple[str, tuple[int, ...]]:
        """('v1.75.2', (1, 75, 2)) of the configured binary."""
        result = self._run("version")
        match = re.search(r"rclone (v(\d+)\.(\d+)\.(\d+)\S*)", result.stdout)
        if result.returncode != 0 or not match:
            raise self._fail(result, f"{self.settings.binary} does not run as rclone")
        return match[1], tuple(int(part) for part in match.groups()[1:])

    def config_file(self) -> Path:
        """The config file this rclone uses (it may not exist)."""
        result = self._run("config", "file")
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if result.returncode != 0 or not lines:
            raise self._fail(result, "rclone cannot tell which config file it uses")
        return Path(lines[-1].strip())

    def remotes(self) -> dict[str, str]:
        """Configured remote names and their types (no secrets: `listremotes --long` prints only these)."""
        result = self._run("listremotes", "--long")
        if result.returncode != 0:
            raise self._fail(result, "rclone cannot list its remotes")
        remotes = {}
        for line in result.stdout.splitlines():
            name, _, kind = line.partition(":")
            if name:
                remotes[name] = kind.strip()
        return remotes

    def probe(self, path: str) -> bool:
        """List one level of `path` to prove the remote answers and accepts us; False if it does not exist yet."""
        result = self._run("lsjson", "--max-depth", "1", "--files-only", path)
        if result.returncode == DIRECTORY_NOT_FOUND:
            return False
        if result.returncode != 0:
            raise self._fail(result, f"cannot list {redact(path)}")
        return True

    def free_bytes(self, path: str) -> int | None:
        """Free space the remote reports, or None when it cannot tell (not zero: unknown is not full)."""
        result = self._run("about", "--json", root_of(path))
        if result.returncode != 0:
            if "support about" in result.stderr:
                return None
            raise self._fail(result, f"cannot ask {redact(root_of(path))} for its free space")
        try:
            free = json.loads(result.stdout).get("free")
        except (json.JSONDecodeError, AttributeError):
            raise RcloneError(f"rclone about {redact(root_of(path))} answered something that is not JSON") from None
        return free if isinstance(free, int) else None

    def list_folders(self, path: str) -> list[str]:
        """Names of the folders directly under `path` (not recursive); empty if `path` does not exist."""
        result = self._run("lsjson", "--dirs-only", path)
        if result.returncode == DIRECTORY_NOT_FOUND:
            return []
        if result.returncode != 0:
            raise self._fail(result, f"cannot list {redact(path)}")
        try:
            return [entry["Name"] for entry in json.loads(result.stdout)]
        except (json.JSONDecodeError, TypeError, KeyError):
            raise RcloneError(f"rclone lsjson {redact(path)} answered something unexpected") from None

    def purge(self, path: str) -> None:
        """Delete `path` and everything below it."""
        result = self._run("purge", path, timeout=max(self.timeout, 3600))
        if result.returncode != 0:
            raise self._fail(result, f"cannot delete {redact(path)}")

    def read_text(self, path: str) -> str | None:
        """The content of a small remote file, or None when it does not exist."""
        result = self._run("cat", path)
        if result.returncode in (DIRECTORY_NOT_FOUND, FILE_NOT_FOUND) or "does not exist" in result.stderr:
            return None
        if result.returncode != 0:
            raise self._fail(result, f"cannot read {redact(path)}")
        return result.stdout

    def upload(self, local_file: Path, path: str) -> None:
        """Put one local file at `path` (a file name, not a folder)."""
        result = self._run("copyto", str(local_file), path, timeout=max(self.timeout, 600))
        if result.returncode != 0:
            raise self._fail(result, f"cannot write {redact(path)}")

    def delete_file(self, path: str) -> None:
        result = self._run("deletefile", path)
        if result.returncode not in (0, DIRECTORY_NOT_FOUND, FILE_NOT_FOUND):
            raise self._fail(result, f"cannot delete {redact(path)}")

    def delete_partials(self, folder: str) -> None:
        """Delete the `NAME.<8 hex>.partial` files an interrupted upload leaves behind below `folder`."""
        result = self._run("delete", folder, "--include", "*.{{[0-9a-f]{8}}}.partial", timeout=max(self.timeout, 600))
        if result.returncode not in (0, DIRECTORY_NOT_FOUND):
            raise self._fail(result, f"cannot clean up interrupted uploads in {redact(folder)}")

    def folders_holding(self, path: str, file_name: str) -> set[str]:
        """Names of the folders directly under `path` that contain a file called `file_name`."""
        result = self._run("lsf", "--files-only", "--max-depth", "2", "--include", f"/*/{file_name}", path,
                           timeout=max(self.timeout, 600))
        if result.returncode == DIRECTORY_NOT_FOUND:
            return set()
        if result.returncode != 0:
            raise self._fail(result, f"cannot list {redact(path)}")
        return {line.rsplit("/", 1)[0] for line in result.stdout.splitlines() if line.endswith("/" + file_name)}

    def list_files(self, path: str) -> list[tuple[str, int]]:
        """Every file below `path` with its size (recursive)."""
        result = self._run("lsjson", "-R", "--files-only", path, bounded=False)
        if result.returncode != 0:
            raise self._fail(result, f"cannot list {redact(path)}")
        return [(entry["Path"], entry["Size"]) for entry in json.loads(result.stdout)]

    def hash_types(self, path: str) -> set[str]:
        """Hash types the backend of `path` can report without downloading."""
        result = self._run("backend", "features", path)
        if result.returncode != 0:
            raise self._fail(result, f"cannot ask {redact(path)} for its features")
        return set(json.loads(result.stdout).get("Hashes") or ())
