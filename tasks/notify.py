"""Report a run: print, log and keep its summary, and tell every configured channel; one channel's failure never
stops the others."""

import dataclasses
import logging
import socket
from pathlib import Path

from tasks import channels, clock, logs, render, results
from tasks.config import Config, Notifications
from tasks.job import Reported
from tasks.summary import Line, Summary, build

log = logging.getLogger("backup.notify")


def announce(kind: str, settings: Notifications, host: str, summary: Summary | None = None) -> list[str]:
    """Send `kind` ("start", "run", "test") through each configured channel; return the failures, in words. A
    channel that skips tests (its TEST_SKIPPED) says why on stdout, lest `doit test_notify` look like a pass."""
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
        outcome = f"{kind} sent" if sent else f"nothing to send for {kind}"
        if kind == "test" and not sent and hasattr(modules[name], "TEST_SKIPPED"):
            outcome = f"skipped ({modules[name].TEST_SKIPPED})"
            print(f"{name}: {outcome}")
        log.info("%s: %s", name, outcome)
    return failures


def report(tasks: list[str], run, notifications: Notifications | None = None, summary_file: Path | None = None):
    """Print and log the summary of `tasks` (from their result files); write it to `summary_file` and send it
    through `notifications` when given. Fails (doit exit 1) when any task failed or left no result, or when a
    channel could not deliver, or the log could not be written."""
    found = {task: results.read(run.results_dir, task, run.run_id) for task in tasks}
    host = socket.gethostname()
    summary = build(tasks, found, host, clock.stamp(run.now), run.dry_run)
    text = render.text(summary)
    logging.getLogger(logs.LOGGER).info("summary\n%s", text, extra={"printed": True})
    logs.show(text)
    if summary_file is not None:
        results.write_json(summary_file, dataclasses.asdict(summary))
    failures = announce("run", notifications, host, summary) if notifications else []
    unseen = []  # what the summary printed above does not say
    if failures:
        unseen.append("notification failed: " + "; ".join(failures))
    if logs.failure():
        unseen.append(logs.failure())
    failed = [line.task for line in summary.backups + summary.checks if not line.succeeded]
    if summary.state != "failed" and not unseen:
        return True
    reasons = ([f"failed: {', '.join(failed)}"] if summary.state == "failed" else []) + unseen
    return Reported("; ".join(reasons), unseen="\n".join(unseen))


def refuse(config: Config, what: str, tell: bool):
    """A config with problems: say so (stdout, and the channels when `tell` and they are usable) and fail, having
    done nothing."""
    logs.show(f"CRITICAL: invalid config, nothing was done: {what} refuses to start until every problem is fixed."
              f"\n{config.report()}")
    if tell and config.notifications:
        now = clock.stamp()
        line = Line(task="config", status="failed", reason="invalid config, nothing was done")
        alert = results.Alert(level="CRITICAL", subject="config",
                              message=f"invalid config, nothing was done: {config.report()}")
        summary = Summary(host=socket.gethostname(), started=now, dry_run=False, backups=(), checks=(line,),
                          alerts=(alert,))
        announce("run", config.notifications, summary.host, summary)
    return Reported("invalid config, nothing was done")  # its details are printed above
