r"""A Summary as words: short text (terminal, log, cron, chat), an HTML mail body (tasks.mail_html), the critical
lines for a phone; and the words every rendering shares for an alert (time, level, backup, message, metrics, what
to do) and for what a backup copied.

Pure functions of the Summary, shared by every channel, so each channel only says how to deliver.

Names of files and folders reach these texts, and anyone who can name a file in a source can put control
characters in a name (ESC `\x1b]0;...` rewrites a terminal's title, more of them its screen): `printable` shows
every control character as an escape, and every text here, and every log line (tasks.logs), goes through it.
"""

import re

from tasks import remedies
from tasks.kinds import backup_of
from tasks.results import LEVELS, Alert
from tasks.summary import Line, Summary, format_bytes

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
    """A few lines: the title, one line per backup, then the problems (each with its time, metrics and what to
    do); each line printable."""
    out = [f"{summary.title} (run started {summary.started})"]
    if summary.stale:
        out.append(f"No recent complete copy: {', '.join(summary.stale)}")
    for line in summary.backups:
        out.append(f"  {line.status.upper():8} {backup_of(line.task)}: {outcome(line, summary)}")
        out.extend(f"  {'':8}   {sub.status.upper():8} at {sub.where}: {outcome(sub, summary)}"
                   for sub in line.destinations)
        if line.dumps:
            out.append(f"  {'':8}   dumped {dumps_words(line.dumps)}")
        if line.deleted:
            out.append(f"  {'':8}   {deleted_words(line.deleted)}")
    if not summary.backups:  # verify, restore, drill: the task's own lines
        out.extend(f"  {line.status.upper():8} {line.task}: {line.reason}" for line in summary.checks)
    problems = [alert for alert in summary.alerts if LEVELS.index(alert.level) >= WARNING_AND_UP]
    if problems:
        out.append("Problems:")
        out.extend(f"  {row}" for alert in problems for row in alert_lines(alert, summary.dry_run))
    return printable_lines(out)


def critical(summary: Summary) -> str:
    """Only the CRITICAL alerts (what is worth waking a phone for), each with its time, metrics and what to do;
    each line printable."""
    return printable_lines(row for alert in summary.alerts if alert.level == "CRITICAL"
                           for row in alert_lines(alert, summary.dry_run))


def html_page(summary: Summary) -> str:
    """The mail body, a whole HTML document (tasks.mail_html, which builds on this module's words)."""
    from tasks import mail_html  # imported here: it imports this module
    return mail_html.page(summary)


def alert_lines(alert: Alert, dry_run: bool) -> list[str]:
    """`LEVEL    subject: message`, then its time, backup and metrics, then what to do when the cause is known."""
    lines = [f"{alert.level:8} {alert.subject}: {alert.message}", INDENT + "; ".join(details(alert, dry_run))]
    if todo := remedies.advice(alert.message):
        lines.append(f"{INDENT}What to do: {todo}")
    return lines


INDENT = " " * 9  # under the message, past the level


def details(alert: Alert, dry_run: bool) -> list[str]:
    """The alert's time, its backup and its metrics, each in words."""
    name = backup_of(alert.subject)
    return [alert.time, *([f"backup {name}"] if name else []), *metric_words(alert, dry_run)]


def metric_words(alert: Alert, dry_run: bool) -> list[str]:
    """Each metric the alert has, in words: files and size, newest file and its age, free space, a limit crossed."""
    metrics = dict(alert.metrics)
    words = []
    if files := metrics.pop("files", 0):
        words.append(copy_words(files, metrics.pop("bytes", 0), metrics.pop("copied", None),
                                metrics.pop("identical", None), dry_run,
                                done=LEVELS.index(alert.level) < LEVELS.index("ERROR")))
    if newest := metrics.pop("newest_file", None):
        age = metrics.pop("newest_age_days", None)
        words.append(f"newest file {newest}" + (f" ({_days(age)} old)" if age is not None else ""))
    if (free := metrics.pop("free_bytes", None)) is not None:
        below = metrics.pop("min_free_bytes", None)
        words.append(f"{format_bytes(free)} free" + (f", min_free_gb asks {format_bytes(below)}" if below else ""))
    for key, label in (("max_bytes", "limit max_size_mb: {}"), ("max_files", "limit max_files: {}")):
        if key in metrics:
            value = metrics.pop(key)
            words.append(label.format(format_bytes(value) if key == "max_bytes" else value))
    metrics.pop("bytes", None)
    return words + [f"{key.replace('_', ' ')}: {value}" for key, value in metrics.items()]


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def copy_words(files: int, size: int, copied: int | None, identical: int | None, dry_run: bool, done: bool) -> str:
    """What a backup copied, worded so that nothing reads as copied that was not: "would have copied" when it was
    skipped or refused, "would copy" in a dry run, "0 copied, N unchanged" for a rerun that found it all there."""
    total = f"{files} files, {format_bytes(size)}"
    if copied is None:  # the copy never ran
        return f"would have copied {total}" if not done else (
            f"would copy {files} files ({format_bytes(size)})" if dry_run else total)
    if copied == 0 and identical:
        return f"0 copied, {identical} unchanged ({format_bytes(size)})"
    counts = f" ({copied} copied, {identical or 0} unchanged)" if identical or not done else ""
    return (total if done else f"{total} selected") + counts


def transfer_words(line: Line) -> str:
    """`: 0 B uploaded, 200.0 MiB copied on the server` when files were copied on the server, else nothing."""
    if not line.server_side_bytes:
        return ""
    return (f": {format_bytes(line.uploaded_bytes or 0)} uploaded, {format_bytes(line.server_side_bytes)} copied "
            "on the server")


def snapshot_words(snapshot: dict, repository_bytes: int | None) -> str:
    """`snapshot 1a2b3c4d: 3 new, 1 changed, 120 unchanged files, 1.2 MiB added, repository 5.3 GiB, 12.3 s`."""
    text = (f"snapshot {snapshot.get('snapshot_id')}: {snapshot.get('files_new')} new, "
            f"{snapshot.get('files_changed')} changed, {snapshot.get('files_unmodified')} unchanged files, "
            f"{format_bytes(int(snapshot.get('data_added') or 0))} added")
    if repository_bytes is not None:
        text += f", repository {format_bytes(int(repository_bytes))}"
    return text + f", {float(snapshot.get('total_duration') or 0):.1f} s"


def dumps_words(dumps) -> str:
    """`shop 1.2 MiB in 0.4 s, wiki 80.0 KiB in 0.1 s`: each database dumped, its size and how long it took."""
    return ", ".join(f"{dump['database']} {format_bytes(dump['bytes'])} in {dump['seconds']:.1f} s"
                     for dump in dumps)


def deleted_words(deleted) -> str:
    """`deleted from the source once archived: 3 files (1.2 MiB): a, b, c`, every name."""
    size = format_bytes(sum(entry["size"] for entry in deleted))
    return (f"deleted from the source once archived: {len(deleted)} files ({size}): "
            + ", ".join(entry["path"] for entry in deleted))


def outcome(line: Line, summary: Summary) -> str:
    """A backup's line: what it copied (or would have), then why it failed, or where the copy went; with several
    destinations, how many were ok (each has a line of its own)."""
    if line.destinations:
        ok = sum(sub.succeeded for sub in line.destinations)
        selected = f"; {line.files} files, {format_bytes(line.bytes)}, newest {line.newest_file}" if line.files else ""
        return f"{ok} of {len(line.destinations)} destinations ok{selected}"
    words = copy_words(line.files, line.bytes, line.copied, line.identical, summary.dry_run, line.succeeded) \
        if line.files else ""
    if not line.succeeded or not (line.files or line.snapshot):  # a snapshot's files are its own, not selected
        return "; ".join(part for part in (words, own_reason(line, summary)) if part)
    detail = (f"{snapshot_words(line.snapshot, line.repository_bytes)} -> {line.destination}" if line.snapshot else
              f"{words}{transfer_words(line)}, newest {line.newest_file} -> {line.destination}")
    if line.pruned:
        detail += ("; would prune " if summary.dry_run else "; forgot " if line.snapshot else "; pruned ") \
            + ", ".join(line.pruned)
    if line.drill:
        detail += (f"; restore drill: {line.drill['files']} files ({format_bytes(line.drill['bytes'])}) of "
                   f"{line.drill['folder']} checked")
    return detail


def own_reason(line: Line, summary: Summary) -> str:
    """The line's reason without a failed check's reason it quotes ("skipped because check_mounts:x failed: …"):
    that reason is shown once, in the check's alert."""
    for check in (part for line in summary.checks for part in (line, *line.destinations)):
        quoted = f": {check.reason.rstrip('.')}"
        if not check.succeeded and check.reason and quoted in line.reason:
            return line.reason.replace(quoted, "", 1)
    return line.reason


