"""The run's messages: the start ping, the summary at the end of a full run, and a test through every channel."""

import socket

from doit.exceptions import TaskFailed

from tasks import channels, kinds
from tasks.actions import status
from tasks.kinds import Kind
from tasks.notify import announce, report
from tasks.summary import STATUS_TASK


def start(plan) -> bool:
    """A monitor that misses the start ping is no reason to skip the backups: failures are only logged."""
    announce("start", plan.config.notifications, socket.gethostname())
    return True


def notify(plan):
    """The end of a full run: the summary of every check and backup and the stale alarm (tasks.actions.status,
    which also writes the status page), printed, kept and sent."""
    full_run = [kind.name for kind in kinds.registry().values() if kind.per_backup and kind.in_full_run]
    tasks = [kinds.task_name(kind, backup.name) for backup in plan.config.backups for kind in full_run]
    if plan.run.dry_run:
        return report(tasks, plan.run, plan.config.notifications, plan.run.results_dir / "summary.json")
    rows = status.stale_alarm(plan)
    verdict = report([*tasks, STATUS_TASK], plan.run, plan.config.notifications,
                     plan.run.results_dir / "summary.json")
    status.write_page(plan, rows)  # after the summary: the page shows this run's alerts
    return verdict


def test_notify(plan):
    notifications = plan.config.notifications
    if notifications is None:
        return TaskFailed(f"the notification settings have problems; nothing was sent.\n{plan.config.report()}")
    if not notifications.channels:
        return TaskFailed("no channel is configured under `notifications` in the config")
    failures = announce("test", notifications, socket.gethostname())
    modules = channels.registry()
    for name in notifications.channels:
        if hasattr(modules[name], "TEST_SKIPPED"):
            continue  # announce printed why
        print(f"{name}: {'FAILED' if any(f.startswith(name + ':') for f in failures) else 'sent'}")
    return TaskFailed("\n".join(failures)) if failures else True


KINDS = (
    Kind("_start", "tell the monitors a full run started", start, per_backup=False, in_full_run=True),
    Kind("notify", "run every backup, then report the summary (the default task)", notify, per_backup=False,
         in_full_run=True, after=("_start", "backup")),
    Kind("test_notify", "send a test message through every configured channel", test_notify, per_backup=False),
)
