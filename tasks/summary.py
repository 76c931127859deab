"""Turn the result records of one run into a Summary: plain data that `tasks.render` turns into text or HTML.

Pure functions: no I/O, so the verdict of a run (and hence the exit code) is tested on made-up results.
"""

import dataclasses
import datetime

from tasks import clock
from tasks.kinds import kind_of
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
    copied: int | None = None      # None: the copy never ran (skipped, refused, dry run)
    identical: int | None = None   # already there unchanged (a rerun the same day)
    drill: dict | None = None      # the restore drill this run did: folder, files, bytes
    uploaded_bytes: int | None = None     # what crossed the network (None: not measured)
    server_side_bytes: int | None = None  # copied on the server from the newest sealed folder
    where: str = ""                       # the destination this line is about, with several
    destinations: tuple["Line", ...] = ()  # with several: each destination's own line
    deleted: tuple[dict, ...] = ()        # source files deleted once archived: path, size, sha256, destinations
    dumps: tuple[dict, ...] = ()          # databases dumped: database, bytes, seconds
    snapshot: dict | None = None          # the restic snapshot made: id, files new/changed/unchanged, bytes added
    repository_bytes: int | None = None   # the restic repository's size after the run

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
    stale: tuple[str, ...] = ()  # backups without a recent complete copy somewhere, e.g. "web (5 d)"

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
        what = (f"{self.ok_count} of {len(self.backups)} backups ok" if self.backups
                else ", ".join(line.task for line in self.checks))
        return f"[backup{mode} {self.state.upper()}] {self.host}: {what}"


def build(tasks: list[str], found: dict[str, Result | None], host: str, started: str, dry_run: bool) -> Summary:
    """Summarise the results of `tasks` (backup:NAME and check tasks); a missing result counts as a failure."""
    lines, alerts = [], []
    for task in tasks:
        result = found.get(task)
        if result is None:
            message = f"{task} left no result in this run: it did not finish (see the log)"
            lines.append(Line(task=task, status="failed", reason=message))
            alerts.append(Alert(level="ERROR", subject=task, message=message, time=clock.stamp()))
            continue
        at_each = tuple(_line(task, result, entry["status"], entry["reason"], entry["destination"], entry["pruned"],
                              entry["duration_s"], entry["metrics"], where=entry["where"])
                        for entry in result.destinations)
        lines.append(_line(task, result, result.status, result.reason, result.destination, result.pruned,
                           result.duration_s, result.metrics, destinations=at_each,
                           deleted=tuple(result.metrics.get("deleted_sources", ())),
                           dumps=tuple(result.metrics.get("dumps", ()))))
        facts = _facts(result)
        alerts.extend(dataclasses.replace(alert, metrics={**facts, **_age(facts, alert.time), **alert.metrics})
                      for alert in result.alerts)
    alerts.sort(key=lambda alert: (-LEVELS.index(alert.level), alert.time))
    return Summary(
        host=host, started=started, dry_run=dry_run,
        backups=tuple(line for line in lines if kind_of(line.task) == "backup"),
        checks=tuple(line for line in lines if kind_of(line.task) != "backup"),
        alerts=tuple(alerts),
        stale=tuple(next((result.metrics.get("stale", ()) for task, result in found.items()
                          if result and task == STATUS_TASK), ())),
    )


def _line(task: str, result: Result, status: str, reason: str, destination: str, pruned, duration_s: float,
          metrics: dict, **more) -> Line:
    """A line of what the backup selected and what happened at a destination (or its only one)."""
    return Line(task=task, status=status, reason=reason, destination=destination, files=result.files,
                bytes=result.bytes, newest_file=result.newest_file, pruned=tuple(pruned), duration_s=duration_s,
                copied=metrics.get("copied"), identical=metrics.get("identical"), drill=metrics.get("drill"),
                uploaded_bytes=metrics.get("uploaded_bytes"), server_side_bytes=metrics.get("server_side_bytes"),
                snapshot=metrics.get("snapshot"), repository_bytes=metrics.get("repository_bytes"), **more)


#: The task of a full run that looks at every destination for the stale alarm (tasks.actions.status).
STATUS_TASK = "status"

#: Measurements of a task that every alert of it carries, so an alert says what was at stake.
FACTS = ("copied", "identical", "free_bytes")


def _facts(result: Result) -> dict:
    facts = {"files": result.files, "bytes": result.bytes} if result.files else {}
    if result.newest_file:
        facts["newest_file"] = result.newest_file
    return facts | {key: result.metrics[key] for key in FACTS if key in result.metrics}


def _age(facts: dict, time: str) -> dict:
    """The newest file's age in days on the alert's date: a primary backup that stopped shows as a growing age."""
    try:
        newest = datetime.date.fromisoformat(facts["newest_file"])
        return {"newest_age_days": (datetime.date.fromisoformat(time[:10]) - newest).days}
    except (KeyError, ValueError):
        return {}


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min {int(seconds % 60)} s"
    return f"{minutes // 60} h {minutes % 60} min"
