"""The SendGrid channel: the exact v3 mail send request, and failures with their status and text."""

import pytest

from tasks import render
from tasks.channels import ChannelError, Event, deliver, sendgrid
from tests.channels.conftest import SECRETS, fails_at_once, make_summary, run_event
from tests.conftest import free_port


def settings(httpserver):
    return {"from": "backup@example.com", "base_url": httpserver.url_for("").rstrip("/")}


def test_the_mail_is_the_exact_v3_json(httpserver, http):
    report = make_summary(failed=True)
    httpserver.expect_oneshot_request("/v3/mail/send", method="POST").respond_with_data("", status=202)
    assert sendgrid.send(run_event(report), settings(httpserver), SECRETS, http) is True
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer SG.test-sendgrid-key-0001"
    assert request.get_json() == {
        "personalizations": [{"to": [{"email": "admin@example.com"}, {"email": "ops@example.com"}]}],
        "from": {"email": "backup@example.com"},
        "subject": "[backup FAILED] srv03: 1 of 2 backups ok",
        "content": [{"type": "text/plain", "value": render.text(report)},
                    {"type": "text/html", "value": render.html_page(report)}],
    }


def test_html_body_has_the_backup_table_checks_and_alerts():
    page = render.html_page(make_summary(failed=True, warning=True))
    for expected in ("Copy folder</th>", "remote:offsite/web_2026-11-22", "3 files, 2.9 KiB",
                     "2026-11-21", "web_2026-11-19", "12.5 s", "All checks passed.",
                     "copy to remote:offsite/db_2026-11-22 failed", "remote does not report its free space"):
        assert expected in page


def test_nothing_is_sent_for_a_good_run_when_only_problems_are_wanted(httpserver, http):
    assert sendgrid.send(run_event(make_summary(), notify_on_success=False), settings(httpserver), SECRETS,
                         http) is False
    assert sendgrid.send(Event(kind="start", host="h"), settings(httpserver), SECRETS, http) is False
    assert httpserver.log == []


def test_server_error_is_retried_then_reported_with_status_and_text(httpserver, http):
    httpserver.expect_request("/v3/mail/send").respond_with_data('{"errors":[{"message":"try later"}]}', status=500)
    with pytest.raises(ChannelError) as caught:
        deliver("sendgrid", sendgrid, run_event(make_summary()), settings(httpserver), SECRETS, http, 3, 0.01)
    assert str(caught.value) == (f'sendgrid: HTTP 500 from {httpserver.url_for("/v3/mail/send")}: '
                                 '{"errors":[{"message":"try later"}]} (after 3 attempts)')
    assert len(httpserver.log) == 3


def test_client_error_is_not_retried(httpserver, http):
    httpserver.expect_request("/v3/mail/send").respond_with_data('{"errors":[{"message":"bad key"}]}', status=401)
    with pytest.raises(ChannelError, match=r"sendgrid: HTTP 401 from .*/v3/mail/send: .*bad key.* \(after 1 attempt\)"):
        deliver("sendgrid", sendgrid, run_event(make_summary()), settings(httpserver), SECRETS, http, 3, 0.01)
    assert len(httpserver.log) == 1


def test_a_closed_port_fails_at_once_naming_the_url(http):
    closed = free_port()
    unreachable = {"from": "backup@example.com", "base_url": f"http://127.0.0.1:{closed}"}
    message = fails_at_once("sendgrid", sendgrid, run_event(make_summary()), unreachable, http)
    assert message == (f"sendgrid: connection refused: nothing listens at http://127.0.0.1:{closed}/v3/mail/send "
                       "(after 1 attempt)")
