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

import dataclasses
import json
import re
from pathlib import Path
from typing import NamedTuple

from .errors import KNOWN_CAUSES, RcloneError, explain, first_names, known_cause, redact
from .outcomes import CheckOutcome, CopyOutcome
from .paths import is_local, join, remote_name, root_of
from .transfers import MAX_TRANSFER_REACHED, STOPPED, Transfers

__all__ = ["DIRECTORY_NOT_FOUND", "FILE_NOT_FOUND", "KNOWN_CAUSES", "MAX_TRANSFER_REACHED", "MINIMUM_VERSION",
           "STOPPED", "CheckOutcome", "CopyOutcome", "Features", "Listing", "Rclone", "RcloneError", "explain",
           "first_names", "is_local", "join", "known_cause", "redact", "remote_name", "root_of"]

#: Below this, known bugs bite: OneDrive uploads fail "unauthenticated" before 1.65.1 (rclone#7405).
MINIMUM_VERSION = (1, 65, 1)

#: Exit codes rclone gives for "directory not found" and "file not found".
DIRECTORY_NOT_FOUND = 3
FILE_NOT_FOUND = 4


class Listing(NamedTuple):
    """The top of a destination: its folders, the folders holding a given file, its files."""

    folders: list[str]
    holding: set[str]
    files: set[str]


@dataclasses.dataclass(frozen=True)
class Features:
    """What a remote can do, from `rclone backend features`."""

    copy: bool               # copies a file on the server (what --copy-dest needs)
    hashes: frozenset[str]   # hash types it reports without downloading
    modtime: bool            # keeps modification times (else rclone compares sizes only)

    @property
    def compares_content(self) -> bool:
        """rclone can tell an edited file of the same size from the original here (by hash or modtime)."""
        return bool(self.hashes) or self.modtime


#: rclone's precision for "modification times not supported" (fs.ModTimeNotSupported, 100 years in ns).
NO_MODTIME = 3153600000000000000
LOCAL_FEATURES = Features(copy=False, hashes=frozenset({"md5", "sha1", "sha256"}), modtime=True)

#: Asked once per run (one doit process): the version of each binary, the features of each remote.
_VERSIONS: dict[str, tuple[str, tuple[int, ...]]] = {}
_FEATURES: dict[tuple, Features] = {}


class Rclone(Transfers):
    """Runs one configured rclone (binary, config file, extra flags): probes within `timeout`, long operations
    while they make progress (`stall_timeout`); none past `deadline` (time.monotonic(), the run's time limit).

    `Rclone(settings, timeout, stall_timeout=600, deadline=None)`."""

    def version(self) -> tuple[str, tuple[int, ...]]:
        """('v1.75.2', (1, 75, 2)) of the configured binary; asked once per run (a process)."""
        if self.settings.binary not in _VERSIONS:
            result = self._run("version")
            match = re.search(r"rclone (v(\d+)\.(\d+)\.(\d+)\S*)", result.stdout)
            if result.returncode != 0 or not match:
                raise self._fail(result, f"{self.settings.binary} does not run as rclone")
            _VERSIONS[self.settings.binary] = match[1], tuple(int(part) for part in match.groups()[1:])
        return _VERSIONS[self.settings.binary]

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

    def folders(self, path: str, file_name: str) -> Listing:
        """What is directly under `path`: its folders, those of them that hold a file called `file_name`, and its
        files, in one listing; nothing when `path` does not exist."""
        result = self._run("lsf", "-R", "--max-depth", "2", "--include", "/*", "--include", "/*/",
                           "--include", f"/*/{file_name}", path, timeout=max(self.timeout, 600))
        if result.returncode == DIRECTORY_NOT_FOUND:
            return Listing([], set(), set())
        if result.returncode != 0:
            raise self._fail(result, f"cannot list {redact(path)}")
        lines = result.stdout.splitlines()
        return Listing([line[:-1] for line in lines if line.endswith("/") and "/" not in line[:-1]],
                       {line.rsplit("/", 1)[0] for line in lines if line.endswith("/" + file_name)},
                       {line for line in lines if "/" not in line})

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

    def list_files(self, path: str, missing_ok: bool = False, bounded: bool = False) -> list[tuple[str, int]]:
        """Every file below `path` with its size (recursive); none when `path` does not exist and `missing_ok`.
        `bounded`: within the probe timeout (a look that must not hang), else as long as it takes."""
        result = self._run("lsjson", "-R", "--files-only", path, bounded=bounded)
        if missing_ok and result.returncode == DIRECTORY_NOT_FOUND:
            return []
        if result.returncode != 0:
            raise self._fail(result, f"cannot list {redact(path)}")
        return [(entry["Path"], entry["Size"]) for entry in json.loads(result.stdout)]

    def features(self, path: str) -> Features:
        """What the backend of `path` can do, asked once per run and remote (a process; sftp connects to answer).
        A local folder needs no asking: rclone's local backend has every hash and no server-side copy."""
        if is_local(path):
            return LOCAL_FEATURES
        key = self._remote_key(path)
        if key not in _FEATURES:
            result = self._run("backend", "features", root_of(path), *self.settings.flags)
            if result.returncode != 0:
                raise self._fail(result, f"cannot ask {redact(root_of(path))} for its features")
            try:
                found = json.loads(result.stdout)
                _FEATURES[key] = Features(copy=bool(found["Features"].get("Copy")),
                                          hashes=frozenset(found.get("Hashes") or ()),
                                          modtime=int(found.get("Precision", NO_MODTIME)) < NO_MODTIME)
            except (json.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError):
                raise RcloneError(f"rclone backend features {redact(root_of(path))} answered something "
                                  "unexpected") from None
        return _FEATURES[key]

    def copy_failed(self, path: str) -> None:
        """The remote of `path` claimed server-side copy but did not do it: for the rest of the run, upload."""
        _FEATURES[self._remote_key(path)] = dataclasses.replace(self.features(path), copy=False)

    def _remote_key(self, path: str) -> tuple:
        """What the run's answers about a remote are kept under: this rclone's settings and the remote."""
        return (self.settings, root_of(path))

