"""The summary mail as a whole HTML document: one line on top saying what failed and what to do, the backups, the
checks that did not pass, and the alerts with their time, metrics and remedy. Each reason is shown once.

Every piece of text goes through `tasks.render.printable` and `html.escape`: names of files, folders and remotes
can hold markup and control characters. Inline styles only: mail clients drop style sheets.
"""

import html
import re

from tasks import remedies, render
from tasks.kinds import backup_of
from tasks.results import LEVELS, Alert
from tasks.summary import Line, Summary, format_duration

#: Status and level colours: a failure stands out in red, a warning in orange, a success in green.
COLOURS = {"ok": "#2e7d32", "warning": "#ef6c00", "skipped": "#c62828", "failed": "#c62828",
           "INFO": "#546e7a", "WARNING": "#ef6c00", "ERROR": "#c62828", "CRITICAL": "#8e0000"}
TABLE = '<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;margin-bottom:12px">'
CELL = "border:1px solid #ccc;vertical-align:top;text-align:left"
NOWRAP = "white-space:nowrap"


def e(text: str) -> str:
    return html.escape(render.printable(text))


def page(summary: Summary) -> str:
    """The document: headline, backups, failed checks, alerts (minus those a backup's row already says)."""
    shown = [alert for alert in summary.alerts if not _told_by_row(alert, summary)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(summary.title)}</title></head>"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;margin:16px">'
        f'<h2 style="margin:0 0 8px">{e(summary.title)}</h2>'
        f'<p style="margin:0 0 8px;padding:10px;border-left:6px solid {COLOURS[summary.state]};'
        f'background:#f5f5f5">{headline(summary)}</p>'
        f'<p style="color:#555;margin:0 0 12px">Run started {e(summary.started)} on {e(summary.host)}.</p>'
        + _backups(summary) + _checks(summary) + _alerts(shown, summary.dry_run) + "</body></html>"
    )


def headline(summary: Summary) -> str:
    """One line: what failed and what to do about its worst problem; or that all is well."""
    failed = [backup_of(line.task) if summary.backups else line.task
              for line in summary.backups or summary.checks if not line.succeeded]
    problems = [alert for alert in summary.alerts if LEVELS.index(alert.level) >= render.WARNING_AND_UP]
    if not problems:
        return ("Dry run: nothing was copied or deleted; no problem found." if summary.dry_run
                else f"All {len(summary.backups)} backups copied and sealed." if summary.backups else "No problem.")
    worst = problems[0]
    what = f"<b>Not backed up: {e(', '.join(failed))}.</b> " if failed else ""
    what = (f"<b>No recent complete copy: {e(', '.join(summary.stale))}.</b> " if summary.stale else "") + what
    more = f" ({len(problems) - 1} more below.)" if len(problems) > 1 else ""
    todo = _action(worst.message)
    return (f"{what}{_level(worst.level)} {e(worst.subject)}: {e(worst.message)}"
            + (f" <b>What to do:</b> {todo}." if todo else "") + more)


def _backups(summary: Summary) -> str:
    if not summary.backups:
        return ""
    pruned = "Would prune" if summary.dry_run else "Pruned"
    rows = "".join(
        f"<tr>{_td(_badge(line.status))}{_td(name)}"
        f"{_td(e(_row_outcome(line, summary)))}{_td(e(line.newest_file or ''), NOWRAP)}"
        f"{_td(e(line.destination if not line.destinations and (line.copied is not None or line.succeeded) else ''))}"
        f"{_td(e(', '.join(line.pruned)))}{_td(format_duration(line.duration_s), NOWRAP)}</tr>"
        + "".join(f"<tr><td></td><td colspan=\"6\">{e(words)}</td></tr>" for words in _notes(line))
        for backup in summary.backups
        for line, name in [(backup, f"<b>{e(backup_of(backup.task))}</b>"),
                           *((sub, f"&#8627; at {e(sub.where)}") for sub in backup.destinations)])
    return ("<h3>Backups</h3>" + TABLE + _header("Status", "Backup", "Outcome", "Newest file", "Copy folder", pruned,
                                                  "Duration") + rows + "</table>")


def _notes(line: Line) -> list[str]:
    """What a backup's row carries below it: the databases it dumped, the source files it deleted."""
    return ([f"dumped {render.dumps_words(line.dumps)}"] if line.dumps else []) + \
        ([render.deleted_words(line.deleted)] if line.deleted else [])


def _row_outcome(line: Line, summary: Summary) -> str:
    """What the backup copied (or would have); a skip names the failed check; any other reason is an alert below,
    so the row points there instead of repeating it."""
    if line.destinations:
        return render.outcome(line, summary)
    words = render.copy_words(line.files, line.bytes, line.copied, line.identical, summary.dry_run,
                              line.succeeded) + render.transfer_words(line) if line.files else ""
    if line.status == "skipped":
        note = render.own_reason(line, summary)
    elif line.status == "ok":
        note = "" if line.files else "nothing to copy"
    else:
        note = f"{line.status}: see the alerts below"
    return "; ".join(part for part in (words, note) if part)


def _checks(summary: Summary) -> str:
    """Only the checks that did not pass (their reasons are in the alerts)."""
    failed = [line for line in summary.checks if line.status != "ok"]
    if not summary.backups or not failed:
        return "" if not summary.backups else "<p>All checks passed.</p>"
    rows = "".join(f"<tr>{_td(_badge(line.status))}{_td(e(line.task))}</tr>" for line in failed)
    return "<h3>Checks that did not pass</h3>" + TABLE + _header("Status", "Check") + rows + "</table>"


def _alerts(alerts: list[Alert], dry_run: bool) -> str:
    if not alerts:
        return "<h3>Alerts</h3><p>None.</p>"
    rows = "".join(
        f"<tr>{_td(e(alert.time), NOWRAP)}{_td(_level(alert.level))}"
        f"{_td(e(backup_of(alert.subject) or alert.subject))}"
        f"{_td(e(alert.message) + _metrics(alert, dry_run))}{_td(_action(alert.message))}</tr>"
        for alert in alerts)
    return ("<h3>Alerts</h3>" + TABLE + _header("Time", "Level", "Backup", "What happened", "What to do") + rows
            + "</table>")


def _told_by_row(alert: Alert, summary: Summary) -> bool:
    """A skipped backup's notice: its row already says it."""
    return any(line.status == "skipped" and alert.subject == line.task and alert.message == line.reason
               for line in summary.backups)


def _metrics(alert: Alert, dry_run: bool) -> str:
    words = render.metric_words(alert, dry_run)
    return f'<br><span style="color:#555;font-size:12px">{e("; ".join(words))}</span>' if words else ""


def _action(message: str) -> str:
    """What to do about an alert with this message, `what to type` in code style; "" for an unknown cause."""
    remedy = remedies.for_message(message)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", e(remedy.action)) if remedy else ""


def _level(level: str) -> str:
    return (f'<span style="background:{COLOURS[level]};color:#fff;padding:1px 6px;border-radius:3px;'
            f'font-weight:bold">{e(level)}</span>')


def _badge(status: str) -> str:
    return f'<b style="color:{COLOURS[status]}">{e(status.upper())}</b>'


def _header(*names: str) -> str:
    return "<tr>" + "".join(f'<th style="{CELL};background:#eee">{name}</th>' for name in names) + "</tr>"


def _td(content: str, style: str = "") -> str:
    return f'<td style="{CELL};{style}">{content}</td>'
