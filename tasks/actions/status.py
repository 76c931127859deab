"""What an administrator asks first: `doit status` (every backup at every destination, or one backup's folders),
`doit log name=NAME` (its log lines of the last run), and the stale alarm and status page of every full run.

    doit status                          the table; exit 1 when a row is not OK
    doit status name=NAME                that backup's dated folders, and which retention deletes next
    doit status format=json|html [out=PATH]
    doit log name=NAME [runs=N]

Read-only and lock-free (tasks.status): they work while a run is going.
"""

import logging
import socket
import sys
from pathlib import Path

from doit.exceptions import TaskFailed

from tasks import clock, logs, render, results, status, status_page
from tasks import rclone as rc
from tasks.kinds import Kind
from tasks.summary import STATUS_TASK, format_bytes


def show_status(plan):
    """`doit status`: the rows, as text, JSON or the HTML page; fails when any is not OK (a monitor can run it)."""
    names = [plan.run.name] if plan.run.name else None
    if names and plan.run.name not in {backup.name for backup in plan.config.backups}:
        known = ", ".join(backup.name for backup in plan.config.backups) or "none"
        return TaskFailed(f"name={plan.run.name} is no usable backup of {plan.run.config_path} (usable: {known})")
    rows = status.collect(plan.config, plan.run, names)
    shape = plan.run.format or "text"
    if shape not in ("text", "json", "html"):
        return TaskFailed(f"format={shape}: give text, json or html")
    text = {"json": lambda: status.as_json(rows),
            "html": lambda: status_page.page(rows, socket.gethostname(), clock.stamp(), *_last_run(plan)),
            "text": lambda: folders_table(rows) if names else table(rows)}[shape]()
    if plan.run.out:
        try:
            Path(plan.run.out).write_text(text, encoding="utf-8")
        except OSError as error:
            return TaskFailed(f"cannot write {plan.run.out}: {error.strerror}")
        print(f"status written to {plan.run.out}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    failing = [f"{row.backup} at {row.where}: {row.state}" for row in rows if row.state != "OK"]
    return TaskFailed("not OK: " + "; ".join(failing)) if failing else True


def table(rows) -> str:
    header = ("BACKUP", "DESTINATION", "STATE", "NEWEST COPY", "COMPLETE", "INCOMPLETE", "SIZE", "FREE",
              "LAST RUN", "LAST VERIFY", "LAST DRILL")
    lines = [header] + [(row.backup, row.where, row.state, _newest(row), str(row.complete), str(row.incomplete),
                         _size(row.bytes), _size(row.free), f"{(row.last_run_at or '')[:16]} {row.last_run or 'never'}"
                         .strip(), row.last_verify or "never", row.last_drill or "never") for row in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    notes = [f"{row.backup} at {row.where}: {row.note}" for row in rows if row.note]
    return render.printable_lines([*("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                                     .rstrip() for line in lines), *notes])


def folders_table(rows) -> str:
    """One backup's folders at each destination: date, files, size, sealed, and what retention deletes next."""
    out = []
    for row in rows:
        out.append(f"{row.backup} at {row.where}: {row.state}" + (f" ({row.note})" if row.note else ""))
        out += [f"  {folder.day}  {folder.name:40} {folder.files:>8} files  {format_bytes(folder.bytes):>10}  "
                + ("sealed" if folder.sealed else "INCOMPLETE")
                + ("  deleted by the next good run" if folder.deleted_next else "")
                for folder in row.folders] or [f"  an archive of {row.complete} files, last archived or checked "
                                                 f"{row.newest}" if row.complete else "  nothing there yet"]
    return render.printable_lines(out)


def _newest(row) -> str:
    return f"{row.newest} ({row.age_days} d)" if row.newest else "never"


def _size(count: int | None) -> str:
    return format_bytes(count) if count is not None else "?"


def _last_run(plan) -> tuple[list, dict]:
    """The alerts of the last full run (its summary) and each backup's log lines of that run."""
    summary = results.read_summary(plan.run.results_dir)
    alerts = summary.get("alerts", []) if summary else []
    tails = {backup.name: logs.lines_of(plan.config.log_file, backup.name, runs=1)[-20:]
             for backup in plan.config.backups}
    return alerts, tails


def stale_alarm(plan) -> list:
    """The rows of a full run, its CRITICAL alert for each destination without a recent complete copy (whether or
    not today's run of that backup worked), kept as the `status` task's result (STATUS_TASK); returns the rows,
    for the page written once the summary is."""
    result = results.Result(task=STATUS_TASK, backup="", run_id=plan.run.run_id)
    rows = status.collect(plan.config, plan.run, ask_free=False)
    for row in rows:
        if row.state in ("STALE", "NEVER"):
            backup = next(backup for backup in plan.config.backups if backup.name == row.backup)
            result.alert("CRITICAL", f"newest complete offsite copy of {row.backup} at {row.where} is "
                                     + (f"{row.age_days} days old (max_age_days {backup.max_age_days})"
                                        if row.newest else "missing: there is none yet"), stale=row.backup)
    result.metrics["stale"] = sorted({f"{row.backup} ({row.age_days} d)" if row.newest else f"{row.backup} (never)"
                                      for row in rows if row.state in ("STALE", "NEVER")})
    results.write(plan.run.results_dir, result)
    return rows


def write_page(plan, rows) -> None:
    """var/status.html after every full run, and a copy at `status_page` when set; a failure is only logged."""
    page = plan.run.state_dir / "status.html"
    try:
        page.write_text(status_page.page(rows, socket.gethostname(), clock.stamp(), *_last_run(plan)),
                        encoding="utf-8")
        if plan.config.status_page:
            rc.Rclone(plan.config.rclone, plan.run.timeout).upload(page, plan.config.status_page)
    except (OSError, rc.RcloneError) as error:
        logging.getLogger(logs.LOGGER).warning("status page not written: %s", error)


def show_log(plan):
    """`doit log name=NAME [runs=N]`: that backup's lines of the last run (or N runs), from the one log file."""
    names = {backup.name for backup in plan.config.backups} | set(plan.config.unusable_backups)
    if plan.run.name not in names:
        return TaskFailed(f"give a backup's name: doit log name=NAME, NAME one of {', '.join(sorted(names))}")
    try:
        runs = int(plan.run.runs or 1)
    except ValueError:
        runs = 0
    if runs < 1:
        return TaskFailed(f"runs={plan.run.runs} is not a number of runs (1 or more)")
    lines = logs.lines_of(plan.config.log_file, plan.run.name, runs=runs)
    sys.stdout.write("\n".join(lines or [f"no log lines of {plan.run.name} in {plan.config.log_file}"]) + "\n")
    return True


KINDS = (
    Kind("status", "every backup at every destination: newest complete copy, state, last run/verify/drill "
                   "[name=NAME] [format=text|json|html] [out=PATH]", show_status, per_backup=False),
    Kind("log", "one backup's log lines of the last run: log name=NAME [runs=N]", show_log, per_backup=False),
)
