"""Logging: everything at `log_level` to a rotating log file; on a terminal, progress to stderr too.

Set up once per process; every task logs through the `backup` logger (`backup.NAME` for one backup), so lines of
backups that run in parallel stay attributable.

The log file is never opened through a symbolic link (the job runs as root: a link planted as the log file
would have it append to /etc/shadow) nor when it is another user's file or has a second name; its folder is
refused when another user owns it or others may write it (unless it has the sticky bit, as /tmp: they can then
neither replace nor rename the tool's files); every line shows control characters (from names of files) as
escapes, as tasks.render does.
"""

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path

from tasks import clock, file_safety, render

LOGGER = "backup"
FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


class PrintableFormatter(logging.Formatter):
    """A formatter whose lines show every control character as an escape (tasks.render.printable): a file name
    can neither send escape sequences to a terminal that shows the log nor forge log lines. The line breaks of
    the format string itself, of a traceback, and of text already made printable (render.Printable, e.g. the
    summary) are kept; any other is shown as `\\n`."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # the other handlers get the record as it was
        record.msg = _lines_kept(str(record.msg))
        if isinstance(record.args, dict):
            record.args = {key: _printable_argument(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_printable_argument(value) for value in record.args)
        if record.exc_text:  # formatted by another formatter before
            record.exc_text = _lines_kept(record.exc_text)
        return super().format(record)

    def formatException(self, exc_info) -> str:
        return _lines_kept(super().formatException(exc_info))

    def formatStack(self, stack_info: str) -> str:
        return _lines_kept(super().formatStack(stack_info))


def _lines_kept(text: str) -> str:
    return render.printable_lines(text.split("\n"))


def _printable_argument(value):
    if isinstance(value, render.Printable):
        return _lines_kept(value)
    if isinstance(value, (int, float)):  # %d and %.1f still work
        return value
    return render.printable(str(value))


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Rotating log whose files only the owner can read (they name paths and files), never opened through a
    symbolic link or as another user's file, and which remembers a failed write (disk full) instead of printing a
    traceback, so the run can report it and fail."""

    def _open(self):
        descriptor = file_safety.open_private(Path(self.baseFilename), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                              "log file")
        return open(descriptor, self.mode, encoding=self.encoding, errors=self.errors)

    def handleError(self, record):
        _note_failure(f"cannot write the log file {self.baseFilename}: {sys.exc_info()[1]}")


_failures: list[str] = []


def _note_failure(message: str) -> None:
    message = render.printable(message)
    if not _failures:
        print(f"ERROR: {message}; the run goes on, reporting here", file=sys.stderr)
    _failures.append(message)


def failure() -> str | None:
    """Why the log could not be written in this run, if it could not."""
    return _failures[0] if _failures else None


def show(text: str) -> None:
    """Print `text` for the person or cron's mail now; a reader that went away (`doit | head -1`) must not stop
    the run, whose summary still gets kept, logged and sent."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        reader_gone()


def reader_gone() -> None:
    """stdout's reader went away (`doit list | head -1`): point stdout at /dev/null, so that nothing more written
    there, not even the interpreter's last flush, ends in a BrokenPipeError traceback. What a run still has to say
    is in the log."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def setup(log_file: Path, level: str = "INFO") -> logging.Logger:
    """Idempotent. On a terminal, progress also goes to stderr; under cron only the summary is printed, so
    cron's mail stays short. When the log file cannot be opened, problems go to stderr instead."""
    logger = logging.getLogger(LOGGER)
    if logger.handlers:
        return logger
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        file_safety.private_folder(log_file.parent, "log folder", sticky_ok=True)  # written only, never read
        to_file = _PrivateRotatingFile(log_file, maxBytes=5 * 1024 * 1024, backupCount=10, encoding="utf-8",
                                       errors="backslashreplace")
    except (OSError, file_safety.Unsafe) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        _note_failure(f"cannot open the log file {log_file} ({reason})")
        _add_console(logger, logging.WARNING)
        return logger
    to_file.setLevel(level)
    to_file.setFormatter(PrintableFormatter(FORMAT, datefmt=clock.FORMAT))  # as the summary and result files
    logger.addHandler(to_file)
    if sys.stderr.isatty():
        _add_console(logger, logging.INFO)
    return logger


def _add_console(logger: logging.Logger, level: int) -> None:
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    console.addFilter(lambda record: not getattr(record, "printed", False))
    logger.addHandler(console)


_ENTRY = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ [A-Z]+ +(?P<logger>[\w.-]+): ")
RUN_STARTED = "run started:"


def lines_of(log_file: Path, backup: str, runs: int = 1) -> list[str]:
    """The lines backup `backup` logged (as `backup.NAME`, with their continuation lines) in the last `runs` runs
    that logged any (a `doit status` or `doit log` in between is no run of it), from the one log (no second
    logging system); none when there is no log yet."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    by_run: list[list[str]] = [[]]
    keeping = False
    for line in text.splitlines():
        entry = _ENTRY.match(line)
        if entry and entry["logger"] == LOGGER and RUN_STARTED in line:
            by_run.append([])
        keeping = entry["logger"] == f"{LOGGER}.{backup}" if entry else keeping
        if keeping:
            by_run[-1].append(line)
    return [line for lines in [lines for lines in by_run if lines][-runs:] for line in lines]
