"""Tell every configured channel about an event; one channel's failure never stops the others."""

import logging

from tasks import channels
from tasks.config import Notifications
from tasks.summary import Summary

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
