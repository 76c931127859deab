"""Made-up summaries and secrets for the channel tests; every channel talks to a real HTTP or SMTP server on
127.0.0.1 (pytest-httpserver, aiosmtpd)."""

import time

import pytest

from tasks import summary
from tasks.channels import ChannelError, Event, Http, deliver
from tasks.results import Result
from tasks.secrets import Secrets

SECRET_VALUES = {"SENDGRID_API_KEY": "SG.test-sendgrid-key-0001", "PUSHOVER_APP_TOKEN": "apptoken-0002",
                 "PUSHOVER_USER_KEY": "userkey-0003", "TELEGRAM_BOT_TOKEN": "123:telegram-token-0004",
                 "UPTIME_KUMA_PUSH_TOKEN": "kumatoken0005", "HEALTHCHECKS_UUID": "hc-uuid-0006",
                 "SMTP_PASSWORD": "smtp-password-0007"}
SECRETS = Secrets(SECRET_VALUES, "test")


def make_summary(failed: bool = False, critical: bool = False, warning: bool = False) -> summary.Summary:
    good = Result(task="backup:web", backup="web", run_id="r", files=3, bytes=3000, newest_file="2026-11-21",
                  destination="remote:offsite/web_2026-11-22", pruned=["web_2026-11-19"], duration_s=12.5)
    other = Result(task="backup:db", backup="db", run_id="r", files=1, bytes=10, newest_file="2026-11-22",
                   destination="remote:offsite/db_2026-11-22")
    check = Result(task="check_space:db", backup="db", run_id="r")
    if warning:
        good.alert("WARNING", "remote does not report its free space")
    if failed:
        other.alert("ERROR", "copy to remote:offsite/db_2026-11-22 failed")
    if critical:
        check.alert("CRITICAL", "only 1.0 GiB free on remote:, below min_free_gb 200")
        other.escalate("skipped", "skipped because check_space:db failed")
    found = {r.task: r for r in (good, other, check)}
    return summary.build(["check_space:db", "backup:web", "backup:db"], found, "srv03", "2026-11-22 05:00", False)


def run_event(report: summary.Summary, notify_on_success: bool = True) -> Event:
    return Event(kind="run", host="srv03", summary=report, recipients=("admin@example.com", "ops@example.com"),
                 notify_on_success=notify_on_success)


@pytest.fixture
def http():
    return Http(timeout=5)


def fails_at_once(name: str, channel, event: Event, settings: dict, http: Http) -> str:
    """Deliver to where nothing listens, with the default retry settings (3 attempts, 5 s then 10 s between
    them): the failure must come at once, after one attempt, naming no secret. Returns its message."""
    began = time.monotonic()
    with pytest.raises(ChannelError) as caught:
        deliver(name, channel, event, settings, SECRETS, http, attempts=3, wait_seconds=5)
    message = str(caught.value)
    assert time.monotonic() - began < 3, message  # today's 15 s of retries would be 5 + 10
    assert message.endswith("(after 1 attempt)"), message
    assert not [secret for secret in SECRET_VALUES.values() if secret in message], message
    return message
