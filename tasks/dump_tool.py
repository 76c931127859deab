"""The one place that runs the database server's own tools (`mariadb`, `mariadb-dump`) and reads their answers.

The password never reaches a command line (any local user reads those) nor anyone else's environment: each call
gets an option file of its own, mode 0600 in the private state folder, named first (`--defaults-extra-file`) and
removed afterwards; its values are quoted as the client reads them, so a `#` or a quote in a password works.
A dump is streamed from the dump tool through the compressor into its file, never held in memory, and stopped
when the file stops growing for the stall time (a hung server) or at the run's deadline.
"""

import contextlib
import os
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

from tasks import watchdog
from tasks.config_backups import DatabaseSettings
from tasks.tool_errors import ToolError

#: What current MariaDB and MySQL docs ask for a consistent, complete dump of InnoDB data: one transaction, rows
#: streamed, stored programs and triggers, binary columns as hex (a dump stays plain text), utf8mb4 throughout.
DUMP_OPTIONS = ("--single-transaction", "--quick", "--routines", "--events", "--triggers", "--hex-blob",
                "--default-character-set=utf8mb4")
COMPRESSORS = {"gzip": (["gzip", "-c", "-6"], ".sql.gz"), "zstd": (["zstd", "-q", "-c", "-3"], ".sql.zst")}
#: Server error codes that need a person: a refused login, a server that cannot be reached.
NEEDS_ACTION = ("1045", "1044", "2002", "2003", "2005", "2013")


class DumpError(ToolError):
    """The server or its tool refused; the message is the server's own words (never the password)."""


class MariaDB:
    """The server of one backup entry, reached as its dump user."""

    def __init__(self, settings: DatabaseSettings, work_dir: Path, timeout: float):
        self.settings, self.work_dir, self.timeout = settings, work_dir, timeout

    def databases(self) -> list[str]:
        return [row[0] for row in self._query("SHOW DATABASES")]

    def sizes(self) -> dict[str, int]:
        """Bytes of data and indexes per database, as the server counts them (an estimate of a dump's size)."""
        rows = self._query("SELECT table_schema, COALESCE(SUM(data_length + index_length), 0) "
                           "FROM information_schema.tables GROUP BY table_schema")
        return {name: int(size) for name, size in rows}

    def can_dump(self, database: str) -> None:
        """Dump the schema alone (no rows) to nowhere: the user may read every table and view. (Triggers and
        routines the user may not see are left out silently, not refused: the README's grants cover them.)"""
        with self._options() as options:
            found = subprocess.run([self.settings.dump_binary, f"--defaults-extra-file={options}", *DUMP_OPTIONS,
                                    "--no-data", "--databases", "--", database], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=max(self.timeout, 60), check=False,
                                   env=watchdog.child_environment())
        if found.returncode != 0:
            raise _error(found.stderr)

    def dump(self, database: str, target_dir: Path, stall_seconds: float, deadline: float | None) -> Path:
        """`<database>.sql.gz` (or `.sql.zst`) in `target_dir`, streamed; DumpError with the server's words."""
        command, suffix = COMPRESSORS[self.settings.compression]
        target = target_dir / f"{file_name(database)}{suffix}"
        with self._options() as options, open(target, "wb") as out, tempfile.TemporaryFile() as errors:
            dump = watchdog.start([self.settings.dump_binary, f"--defaults-extra-file={options}", *DUMP_OPTIONS,
                                   "--databases", "--", database], stdout=subprocess.PIPE, stderr=errors)
            compress = watchdog.start(command, stdin=dump.stdout, stdout=out, stderr=subprocess.DEVNULL)
            dump.stdout.close()  # the compressor holds the pipe now: a dead compressor stops the dump
            stopped = _watch(target, (dump, compress), stall_seconds, deadline)
            errors.seek(0)
            if stopped:
                raise DumpError(f"the dump of {database} {stopped}", needs_action=True)
            if dump.returncode != 0:
                raise _error(errors.read())
            if compress.returncode != 0:
                raise DumpError(f"{command[0]} failed (exit {compress.returncode}) compressing the dump of {database}")
        return target

    def _query(self, sql: str) -> list[list[str]]:
        """Rows of a query (tab-separated, no headers); the SQL holds no secret."""
        with self._options() as options:
            try:
                found = subprocess.run([self.settings.client_binary, f"--defaults-extra-file={options}", "-N", "-B",
                                        "-e", sql], capture_output=True, timeout=self.timeout, check=False,
                                       env=watchdog.child_environment())
            except subprocess.TimeoutExpired:
                raise DumpError(f"the server did not answer within {self.timeout:g} s", needs_action=True) from None
            except FileNotFoundError:
                raise DumpError(f"{self.settings.client_binary} is not installed (Debian: apt install "
                                "mariadb-client), or set database.client_binary", needs_action=True) from None
        if found.returncode != 0:
            raise _error(found.stderr)
        return [line.split("\t") for line in found.stdout.decode("utf-8", "replace").splitlines()]

    @contextlib.contextmanager
    def _options(self):
        """An option file only this user can read, for one call."""
        settings = self.settings
        place = ({"socket": settings.socket} if settings.socket else  # TCP even to localhost: the port counts
                 {"host": settings.host, "port": settings.port, "protocol": "TCP"})
        lines = ["[client]", *(f"{key}={_quoted(str(value))}" for key, value in
                               {"user": settings.user, "password": settings.password, **place}.items())]
        descriptor, path = tempfile.mkstemp(dir=self.work_dir, prefix=".client-", suffix=".cnf")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            yield path
        finally:
            Path(path).unlink(missing_ok=True)


def file_name(database: str) -> str:
    """A database's name as a plain file name: anything but letters, digits, `_` and `-` (and a leading `-`)
    percent-encoded, so `../x`, `a/b` or `-x` stay inside the staging folder and are never read as options."""
    encoded = urllib.parse.quote(database, safe="")
    encoded = encoded.replace(".", "%2E")
    return "%2D" + encoded[1:] if encoded.startswith("-") else encoded


def _quoted(value: str) -> str:
    """An option file value as the client reads it back: double quotes, backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _watch(target: Path, processes, stall_seconds: float, deadline: float | None) -> str | None:
    """Wait for the pipeline; why it was stopped (no growth for the stall time, the deadline), or None."""
    size, grew = -1, time.monotonic()
    while any(process.poll() is None for process in processes):
        now = time.monotonic()
        current = target.stat().st_size
        if current != size:
            size, grew = current, now
        why = (watchdog.TIME_LIMIT if watchdog.past(deadline) else
               f"made no progress for {stall_seconds:g} s (server hung?)" if now - grew > stall_seconds else None)
        if why:
            for process in processes:
                process.kill()
                process.wait()
            return f"was stopped: {why}"
        time.sleep(0.2)
    return None


def _error(stderr: bytes) -> DumpError:
    """The tool's last words, e.g. `Got error: 1049: "Unknown database 'shop'" when selecting the database`."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    message = lines[-1] if lines else "failed without a message"
    return DumpError(message, needs_action=any(f"{code}" in message for code in NEEDS_ACTION))
