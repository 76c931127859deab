"""Report a run: print, log and keep its summary, and tell every configured channel; one channel's failure never
stops the others."""

import dataclasses
import datetime
import logging
import socket
from pathlib import Path

from doit.exceptions import TaskFailed

from tasks import channels, logs, render, results
from tasks.config import Config, Notifications
from tasks.summary import Line, Summary, build

log = logging.getLogger("backup.notify")


def announce(kind: str, settings: Notifications, host: str, summary: Summary | None = None) -> list[str]:
    """Send `kind` ("start", "run", "test") through each configured channel; return the failures, in words."""
    event = channels.Event(kind=kind, host=host, summary=summary, recipients=settings.recipients,
                           notify_on_success=settings.notify_on_success)
    http = channels.Http(settings.timeout_seconds)
    modules = channels.registry()
    failures = []
    for name, channel_settings in settings.channels.items():
        try:
            sent = channels.deliver(name, modules[name], event, channel_settings, settings.secrets, http,
                                    settings.attempts, settings.retry_wait_seconds)
        except channels.ChannelError as error:
            log.error("notification failed: %s", error)
            failures.append(str(error))
            continue
        log.info("%s: %s", name, f"{kind} sent" if sent else f"nothing to send for {kind}")
    return failures


def report(tasks: list[str], run, notifications: Notifications | None = None, summary_file: Path | None = None):
    """Print and log the summary of `tasks` (from their result files); write it to `summary_file` and send it
    through `notifications` when given. Fails (doit exit 1) when any task failed or left no result, or when a
    channel could not deliver, or the log could not be written."""
    found = {task: results.read(run.results_dir, task, run.run_id) for task in tasks}
    started = datetime.datetime.fromtimestamp(float(run.run_id.split("-")[0])).strftime("%Y-%m-%d %H:%M")
    host = socket.gethostname()
    summary = build(tasks, found, host, started, run.dry_run)
    text = render.text(summary)
    logging.getLogger(logs.LOGGER).info("summary\n%s", text, extra={"printed": True})
    print(text)
    if summary_file is not None:
        results.write_json(summary_file, dataclasses.asdict(summary))
    failures = announce("run", notifications, host, summary) if notifications else []
    problems = []
    if summary.state == "failed":
        failed = [line.task for line in summary.backups + summary.checks if not line.succeeded]
        problems.append(f"failed: {', '.join(failed)}; see the summary above and the log")
    if failures:
        problems.append("notification failed: " + "; ".join(failures))
    if logs.failure():
        problems.append(logs.failure())
    return TaskFailed("\n".join(problems)) if problems else True


def refuse(config: Config, what: str, tell: bool):
    """A config with problems: say so (stdout, and the channels when `tell` and they are usable) and fail, having
    done nothing."""
    print(f"CRITICAL: invalid config, nothing was done: {what} refuses to start until every problem is fixed.\n"
          f"{config.report()}")
    if tell and config.notifications:
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        line = Line(task="config", status="failed", reason="invalid config, nothing was done")
        alert = results.Alert(level="CRITICAL", subject="config",
                              message=f"invalid config, nothing was done: {config.report()}")
        summary = Summary(host=socket.gethostname(), started=now, dry_run=False, backups=(), checks=(line,),
                          alerts=(alert,))
        announce("run", config.notifications, summary.host, summary)
    return TaskFailed("invalid config")
