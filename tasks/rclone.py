"""The one place that builds rclone command lines, runs them and reads their JSON and exit codes.

Never runs `rclone config show` or `config dump`: they print tokens and passwords. Every text that leaves this
module (messages, displayed paths) has the secrets of on-the-fly remotes masked by `redact`.
"""

import dataclasses
import json
import logging
import re
import subprocess
import tempfile
from pathlib import Path

from tasks import watchdog
from tasks.config import RcloneSettings
from tasks.schema import REMOTE_PATTERN

#: Below this, known bugs bite: OneDrive uploads fail "unauthenticated" before 1.65.1 (rclone#7405).
MINIMUM_VERSION = (1, 65, 1)

#: Exit codes rclone gives for "directory not found" and "file not found".
DIRECTORY_NOT_FOUND = 3
FILE_NOT_FOUND = 4

_SECRET_OPTION = re.compile(r"""((?:pass|password|key|secret|token|secret_access_key|client_secret|"""
                            r"""access_key_id|session_token|bearer_token|sas_url|account_key)\s*=\s*)"""
                            r"""('[^']*'|"[^"]*"|[^,:'"\s]+)""", re.IGNORECASE)


class RcloneError(Exception):
    """rclone failed; the message is already in plain words and free of secrets.

    `needs_action`: the cause will not go away by itself (a refused login, an expired token, a missing remote).
    """

    def __init__(self, message: str, returncode: int | None = None, needs_action: bool = False):
        super().__init__(message)
        self.returncode = returncode
        self.needs_action = needs_action


def redact(text: str) -> str:
    """Mask option values that carry secrets, as in `:sftp,user=u,pass=SECRET:path`."""
    return _SECRET_OPTION.sub(r"\1***", text)


def remote_name(path: str) -> str | None:
    """The configured remote a destination uses, or None for a local folder or an on-the-fly remote."""
    match = REMOTE_PATTERN.match(path)
    if not match or match["remote"].startswith(":"):
        return None
    return match["remote"]


def is_local(path: str) -> bool:
    return REMOTE_PATTERN.match(path) is None


def root_of(path: str) -> str:
    """The top of the remote (what `about` measures); a local folder measures its own file system."""
    match = REMOTE_PATTERN.match(path)
    return f"{match['remote']}:" if match else path


def join(base: str, child: str) -> str:
    """`remote:` + x -> `remote:x`; `remote:a/` + x -> `remote:a/x`; `/mnt/a` + x -> `/mnt/a/x`."""
    if not child or "/" in child or child in (".", ".."):
        raise ValueError(f"refusing to build a path below {redact(base)!r} from {child!r}")
    if base.endswith((":", "/")):
        return base + child
    return f"{base}/{child}"


@dataclasses.dataclass(frozen=True)
class CopyOutcome:
    """What one `rclone copy` reported: counts from its per-file lines and its final stats."""

    returncode: int
    copied: int          # files uploaded, new or replacing a different file
    replaced: int        # of those, files that existed at the destination and differed
    checks: int          # files found at the destination and compared
    bytes: int
    errors: int
    messages: tuple[str, ...]  # rclone's error messages, redacted, first ones only

    @property
    def identical(self) -> int:
        """Files already at the destination and unchanged (checked, not replaced)."""
        return self.checks - self.replaced

    @property
    def accounted(self) -> int:
        """Files of the list that are now at the destination: copied or found identical."""
        return self.copied + self.identical


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """What `rclone check` or `rclone checksum` found, file by file."""

    matched: int
    differ: tuple[str, ...]    # content (or size) differs
    missing: tuple[str, ...]   # not at the destination
    errors: tuple[str, ...]    # could not be read or compared
    hash_checked: bool         # False: no common hash, only sizes were compared

    @property
    def clean(self) -> bool:
        return not (self.differ or self.missing or self.errors)

    def describe(self, named_at_most: int = 20) -> str:
        """`2 differ (a, b); 1 missing (c)`: counts and the first names of each kind."""
        parts = []
        for label, names in (("differ", self.differ), ("missing", self.missing), ("unreadable", self.errors)):
            if names:
                more = ", …" if len(names) > named_at_most else ""
                parts.append(f"{len(names)} {label} ({', '.join(names[:named_at_most])}{more})")
        return "; ".join(parts)


class Rclone:
    """Runs one configured rclone (binary, config file, extra flags): probes within `timeout`, long operations
    while they make progress (`stall_timeout`)."""

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
            raise RcloneError(f"rclone {args[0]} gave no answer within {timeout:g} s (network or server hung?)")
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
                    entry = _json_line(line)
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
        marks = {"=": [], "*": [], "+": [], "!": []}
        for line in report.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            if line[:2] in ("= ", "* ", "+ ", "! "):
                marks[line[0]].append(line[2:])
        unchecked = "No common hash found" in result.stderr or "hashes could not be checked" in result.stderr
        # a file listed but gone when read ("does not exist") is missing, not unreadable
        gone = {entry.get("object") for entry in map(_json_line, result.stderr.splitlines())
                if "does not exist" in entry.get("msg", "") or "not found" in entry.get("msg", "")}
        differ = tuple(marks["*"])
        missing = tuple(marks["+"] + [path for path in marks["!"] if path in gone])
        errors = tuple(path for path in marks["!"] if path not in gone)
        if result.returncode != 0 and not (differ or missing or errors):
            raise self._fail(result, "rclone could not compare")
        return CheckOutcome(matched=len(marks["="]), differ=differ, missing=missing, errors=errors,
                            hash_checked=not unchecked)

    def copy(self, source: Path, destination: str, file_list: Path, log) -> CopyOutcome:
        """Copy exactly the files named in `file_list` (paths relative to `source`) into `destination`.

        As long as it takes while it makes progress. Each rclone log line goes to `log` at debug level.
        """
        counts = {"copied": 0, "replaced": 0}
        stats, messages = {}, []

        def on_entry(entry: dict) -> None:
            log.debug("rclone: %s", redact(json.dumps(entry, ensure_ascii=False)))
            message = entry.get("msg", "")
            if "stats" in entry:
                stats.update(entry["stats"])
            elif message.startswith("Copied ("):
                counts["copied"] += 1
                counts["replaced"] += "replaced existing" in message
            elif entry.get("level") in ("error", "critical") and not message.startswith("Attempt "):
                described = _describe(entry)
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


def _progress(line: str):
    """What counts as progress in rclone's log: the stats counters moving, or any other line."""
    entry = _json_line(line)
    stats = entry.get("stats")
    if isinstance(stats, dict):
        return tuple(stats.get(key) for key in ("bytes", "checks", "transfers", "deletes", "errors", "listed"))
    return line


def _json_line(line: str) -> dict:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError:
        return {"level": "error", "msg": line.strip()} if line.strip() else {}
    return entry if isinstance(entry, dict) else {}


def _describe(entry: dict) -> str:
    obj = entry.get("object")
    text = f"{obj}: {entry.get('msg', '')}" if obj and entry.get("objectType") != "string" else entry.get("msg", "")
    return redact(text.strip())


def explain(stderr: str) -> tuple[str, bool]:
    """rclone's error text reduced to its last meaningful line, with a known cause spelled out; and whether that
    cause needs a person to act."""
    entries = [_json_line(line) for line in stderr.splitlines()]
    failures = [e["msg"] for e in entries if e.get("msg", "").startswith("Failed to")]
    errors = [_describe(e) for e in entries if e.get("level") in ("error", "critical")]
    text = redact((failures or errors or [stderr.strip() or "no error text"])[-1])
    cause, needs_action = known_cause(stderr)
    return (f"{cause} ({text})" if cause else text), needs_action


def known_cause(text: str) -> tuple[str | None, bool]:
    """The cause behind rclone's error text in an administrator's words, and whether a person must act."""
    if "invalid_grant" in text or "token expired" in text:
        name = re.search(r"reconnect (\S+?):", text)
        remote = name[1] if name else "REMOTE"
        return (f"the remote's login token has expired or was revoked; renew it on this server with "
                f"`rclone config reconnect {remote}:`", True)
    for signs, cause, needs_action in KNOWN_CAUSES:
        if any(sign in text for sign in signs):
            return cause, needs_action
    return None, False


#: Error texts of rclone and its backends, what they mean to an administrator, and whether a person must act.
KNOWN_CAUSES = (
    (("didn't find section in config file",), "no such remote in the rclone config file", True),
    (("unable to authenticate", "401 Unauthorized", "InvalidAccessKeyId", "SignatureDoesNotMatch",
      "403 Forbidden"), "login refused: check this remote's user and password or keys with `rclone config`", True),
    (("connection refused", "no such host", "i/o timeout", "network is unreachable"),
     "the server cannot be reached (down, or no network?)", False),
    (("quota", "insufficient storage", "InsufficientStorage", "no space left", "remaining disk space"),
     "the destination is full", True),
)
