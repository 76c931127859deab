"""Turn the result records of one run into a Summary (plain data) and render it as short text.

Pure functions: no I/O, so the verdict of a run (and hence the exit code) is tested on made-up results.
Notification channels render the same Summary in their own formats.
"""

import dataclasses

from tasks.results import LEVELS, Alert, Result


@dataclasses.dataclass(frozen=True)
class Line:
    """One backup or check as the summary shows it."""

    task: str
    status: str
    reason: str
    destination: str = ""
    files: int = 0
    bytes: int = 0
    newest_file: str | None = None
    pruned: tuple[str, ...] = ()
    duration_s: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.status in ("ok", "warning")


@dataclasses.dataclass(frozen=True)
class Summary:
    host: str
    started: str
    dry_run: bool
    backups: tuple[Line, ...]
    checks: tuple[Line, ...]
    alerts: tuple[Alert, ...]   # most severe first

    @property
    def state(self) -> str:
        """'failed' if any backup or check failed or was skipped, else 'warning' if any warned, else 'ok'."""
        statuses = {line.status for line in self.backups + self.checks}
        if statuses & {"failed", "skipped"}:
            return "failed"
        return "warning" if "warning" in statuses else "ok"

    @property
    def ok_count(self) -> int:
        return sum(line.succeeded for line in self.backups)

    @property
    def title(self) -> str:
        mode = " dry run" if self.dry_run else ""
        return (f"[backup{mode} {self.state.upper()}] {self.host}: "
                f"{self.ok_count} of {len(self.backups)} backups ok")


def build(tasks: list[str], found: dict[str, Result | None], host: str, started: str, dry_run: bool) -> Summary:
    """Summarise the results of `tasks` (backup:NAME and check tasks); a missing result counts as a failure."""
    lines, alerts = [], []
    for task in tasks:
        result = found.get(task)
        if result is None:
            message = f"{task} left no result in this run: it did not finish (see the log)"
            lines.append(Line(task=task, status="failed", reason=message))
            alerts.append(Alert(level="ERROR", subject=task, message=message, time=started))
            continue
        lines.append(Line(task=task, status=result.status, reason=result.reason, destination=result.destination,
                          files=result.files, bytes=result.bytes, newest_file=result.newest_file,
                          pruned=tuple(result.pruned), duration_s=result.duration_s))
        alerts.extend(result.alerts)
    alerts.sort(key=lambda alert: (-LEVELS.index(alert.level), alert.time))
    return Summary(
        host=host, started=started, dry_run=dry_run,
        backups=tuple(line for line in lines if line.task.startswith("backup:")),
        checks=tuple(line for line in lines if not line.task.startswith("backup:")),
        alerts=tuple(alerts),
    )


def render_text(summary: Summary) -> str:
    """A few lines for the terminal, the log and cron's mail: one per backup, then the problems."""
    out = [f"{summary.title} (run started {summary.started})"]
    for line in summary.backups:
        name = line.task.removeprefix("backup:")
        if line.status == "ok" or (line.status == "warning" and line.files):
            detail = (f"{line.files} files, {format_bytes(line.bytes)}, newest {line.newest_file} "
                      f"-> {line.destination}")
            if line.pruned:
                detail += ("; would prune " if summary.dry_run else "; pruned ") + ", ".join(line.pruned)
        else:
            detail = line.reason
        out.append(f"  {line.status.upper():8} {name}: {detail}")
    problems = [alert for alert in summary.alerts if LEVELS.index(alert.level) >= LEVELS.index("WARNING")]
    if problems:
        out.append("Problems:")
        out.extend(f"  {alert.level:8} {alert.subject}: {alert.message}" for alert in problems)
    return "\n".join(out)


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"

