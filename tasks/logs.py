"""Logging: everything at `log_level` to a rotating log file; on a terminal, progress to stderr too.

Set up once per process; every task logs through the `backup` logger (`backup.NAME` for one backup), so lines of
backups that run in parallel stay attributable.
"""

import logging
import logging.handlers
import os
import sys
from pathlib import Path

LOGGER = "backup"
FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Rotating log whose files only the owner can read (they name paths and files), and which remembers a
    failed write (disk full) instead of printing a traceback, so the run can report it and fail."""

    def _open(self):
        return open(os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                    self.mode, encoding=self.encoding, errors=self.errors)

    def handleError(self, record):
        _note_failure(f"cannot write the log file {self.baseFilename}: {sys.exc_info()[1]}")


_failures: list[str] = []


def _note_failure(message: str) -> None:
    if not _failures:
        print(f"ERROR: {message}; the run goes on, reporting here", file=sys.stderr)
    _failures.append(message)


def failure() -> str | None:
    """Why the log could not be written in this run, if it could not."""
    return _failures[0] if _failures else None


def setup(log_file: Path, level: str = "INFO") -> logging.Logger:
    """Idempotent. On a terminal, progress also goes to stderr; under cron only the summary is printed, so
    cron's mail stays short. When the log file cannot be opened, problems go to stderr instead."""
    logger = logging.getLogger(LOGGER)
    if logger.handlers:
        return logger
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = _PrivateRotatingFile(log_file, maxBytes=5 * 1024 * 1024, backupCount=10, encoding="utf-8",
                                       errors="backslashreplace")
    except OSError as error:
        _note_failure(f"cannot open the log file {log_file} ({error.strerror})")
        _add_console(logger, logging.WARNING)
        return logger
    to_file.setLevel(level)
    to_file.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(to_file)
    if sys.stderr.isatty():
        _add_console(logger, logging.INFO)
    return logger


def _add_console(logger: logging.Logger, level: int) -> None:
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.addFilter(lambda record: not getattr(record, "printed", False))
    logger.addHandler(console)
