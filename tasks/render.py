r"""A Summary as words: short text (terminal, log, cron, chat), an HTML mail body, the critical lines for a phone.

Pure functions of the Summary, shared by every channel, so each channel only says how to deliver.

Names of files and folders reach these texts, and anyone who can name a file in a source can put control
characters in a name (ESC `\x1b]0;...` rewrites a terminal's title, more of them its screen): `printable` shows
every control character as an escape, and every text here, and every log line (tasks.logs), goes through it.
"""

import html
import re

from tasks.kinds import backup_of
from tasks.results import LEVELS
from tasks.summary import Line, Summary, format_bytes, format_duration

WARNING_AND_UP = LEVELS.index("WARNING")

#: C0 controls (tab and line feed included), DEL, C1 controls, the Unicode line and paragraph separators, and the
#: lone surrogates that stand for bytes of non-UTF-8 names (printed raw, 0x9b is a terminal's CSI).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


class Printable(str):
    """Text already made printable: its pieces went through `printable`, its line breaks are the layout's own."""


def printable(text: str) -> str:
    r"""`text` with every control character shown as an escape: `\x1b`, `\t`, `\n`, `\x85`, `\u2028`, and a
    byte of a non-UTF-8 name (carried as a lone surrogate) as `\xff`. Nothing else changes (a backslash stays
    one), so applying it twice changes nothing more."""
    return _UNPRINTABLE.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    character = match.group()
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # the byte it stands for, as tasks.selection shows names
        return f"\\x{code - 0xDC00:02x}"
    return _SHORT.get(character) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def printable_lines(lines) -> Printable:
    """Lines made printable one by one, joined by line breaks: a line break inside a line is shown, not made."""
    return Printable("\n".join(printable(line) for line in lines))


def title(summary: Summary) -> str:
    """The summary's one-line title (mail subject, phone title, heartbeat message), printable."""
    return printable(summary.title)


def text(summary: Summary) -> str:
    """A few lines: the title, one line per backup, then the problems; each line printable."""
    out = [f"{summary.title} (run started {summary.started})"]
    for line in summary.backups:
        out.append(f"  {line.status.upper():8} {_name(line)}: {_outcome(line, summary.dry_run)}")
    if not summary.backups:  # verify, restore, drill: the task's own lines
        out.extend(f"  {line.status.upper():8} {line.task}: {line.reason}" for line in summary.checks)
    problems = [alert for alert in summary.alerts if LEVELS.index(alert.level) >= WARNING_AND_UP]
    if problems:
        out.append("Problems:")
        out.extend(f"  {alert.level:8} {alert.subject}: {alert.message}" for alert in problems)
    return printable_lines(out)


def critical(summary: Summary) -> str:
    """Only the CRITICAL alerts, one per line (what is worth waking a phone for), each printable."""
    return printable_lines(f"{alert.subject}: {alert.message}" for alert in summary.alerts
                           if alert.level == "CRITICAL")


def html_page(summary: Summary) -> str:
    """The mail body: a table of backups (everything the summary knows of each), the checks, every alert."""

    def e(text: str) -> str:
        return html.escape(printable(text))

    rows = "".join(
        f"<tr><td>{_badge(line.status)}</td><td>{e(_name(line))}</td><td>{e(line.destination)}</td>"
        f"<td align=right>{line.files}</td><td align=right>{format_bytes(line.bytes)}</td>"
        f"<td>{e(line.newest_file or '')}</td><td>{e(', '.join(line.pruned))}</td>"
        f"<td align=right>{format_duration(line.duration_s)}</td><td>{e(line.reason)}</td></tr>"
        for line in summary.backups)
    checks = "".join(f"<tr><td>{_badge(line.status)}</td><td>{e(line.task)}</td><td>{e(line.reason)}</td></tr>"
                     for line in summary.checks)
    alerts = "".join(f"<tr><td>{e(alert.time)}</td><td>{e(alert.level)}</td><td>{e(alert.subject)}</td>"
                     f"<td>{e(alert.message)}</td></tr>" for alert in summary.alerts)
    pruned_header = "Would prune" if summary.dry_run else "Pruned"
    return (
        f"<html><body><h2>{e(summary.title)}</h2><p>Run started {e(summary.started)}.</p>"
        "<h3>Backups</h3><table border=1 cellpadding=4 cellspacing=0>"
        "<tr><th>Status</th><th>Backup</th><th>Copy folder</th><th>Files</th><th>Size</th><th>Newest file</th>"
        f"<th>{pruned_header}</th><th>Duration</th><th>Reason</th></tr>{rows}</table>"
        "<h3>Checks</h3><table border=1 cellpadding=4 cellspacing=0>"
        f"<tr><th>Status</th><th>Check</th><th>Reason</th></tr>{checks}</table>"
        "<h3>Alerts</h3>"
        + (f"<table border=1 cellpadding=4 cellspacing=0><tr><th>Time</th><th>Level</th><th>Subject</th>"
           f"<th>Message</th></tr>{alerts}</table>" if alerts else "<p>None.</p>")
        + "</body></html>"
    )


def _name(line: Line) -> str:
    return backup_of(line.task)


def _outcome(line: Line, dry_run: bool) -> str:
    if not line.succeeded or not line.files:
        return line.reason
    detail = f"{line.files} files, {format_bytes(line.bytes)}, newest {line.newest_file} -> {line.destination}"
    if line.pruned:
        detail += ("; would prune " if dry_run else "; pruned ") + ", ".join(line.pruned)
    return detail


_COLOURS = {"ok": "#2e7d32", "warning": "#ef6c00", "skipped": "#c62828", "failed": "#c62828"}


def _badge(status: str) -> str:
    return f'<b style="color:{_COLOURS[status]}">{status.upper()}</b>'
