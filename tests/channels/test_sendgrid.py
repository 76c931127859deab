"""The SendGrid channel: the exact v3 mail send request, and failures with their status and text."""

import pytest

from tasks import render
from tasks.channels import ChannelError, Event, deliver, sendgrid
from tests.channels.conftest import SECRETS, make_summary, run_event


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
    for expected in ("<th>Copy folder</th>", "remote:offsite/web_2026-11-22", "<td align=right>3</td>",
                     "2.9 KiB", "2026-11-21", "web_2026-11-19", "12.5 s", "<h3>Checks</h3>", "check_space:db",
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
    assert str(caught.value) == 'sendgrid: HTTP 500: {"errors":[{"message":"try later"}]} (after 3 attempts)'
    assert len(httpserver.log) == 3


def test_client_error_is_not_retried(httpserver, http):
    httpserver.expect_request("/v3/mail/send").respond_with_data('{"errors":[{"message":"bad key"}]}', status=401)
    with pytest.raises(ChannelError, match="sendgrid: HTTP 401: .*bad key.* \\(after 1 attempt\\)"):
        deliver("sendgrid", sendgrid, run_event(make_summary()), settings(httpserver), SECRETS, http, 3, 0.01)
    assert len(httpserver.log) == 1


def test_unreachable_service_is_retryable_and_names_no_secret(http):
    unreachable = {"from": "backup@example.com", "base_url": "http://127.0.0.1:9"}
    with pytest.raises(ChannelError) as caught:
        deliver("sendgrid", sendgrid, run_event(make_summary()), unreachable, SECRETS, http, 2, 0.01)
    assert "cannot reach the service" in str(caught.value) and "after 2 attempts" in str(caught.value)
    assert "SG.test" not in str(caught.value)
