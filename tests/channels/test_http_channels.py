"""Pushover, Telegram, Uptime Kuma and Healthchecks: the exact requests each service expects."""

from urllib.parse import parse_qs

from tasks import render
from tasks.channels import Event, healthchecks, pushover, telegram, uptime_kuma
from tests.channels.conftest import SECRETS, make_summary, run_event


def base(httpserver) -> dict:
    return {"base_url": httpserver.url_for("").rstrip("/")}


def test_pushover_sends_only_critical_lines_at_low_priority(httpserver, http):
    httpserver.expect_request("/1/messages.json", method="POST").respond_with_json({"status": 1})
    assert pushover.send(run_event(make_summary(failed=True)), base(httpserver), SECRETS, http) is False
    report = make_summary(critical=True)
    assert pushover.send(run_event(report), base(httpserver), SECRETS, http) is True
    (request, _), = httpserver.log
    assert parse_qs(request.get_data(as_text=True)) == {
        "token": ["apptoken-0002"], "user": ["userkey-0003"], "priority": ["-1"],
        "title": ["[backup FAILED] srv03: 1 of 2 backups ok"],
        "message": ["check_space:db: only 1.0 GiB free on remote:, below min_free_gb 200"],
    }


def test_pushover_test_message(httpserver, http):
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1})
    assert pushover.send(Event(kind="test", host="srv03"), base(httpserver), SECRETS, http)
    form = parse_qs(httpserver.log[0][0].get_data(as_text=True))
    assert form["message"] == ["Test message from the offsite backup copier on srv03."]


def test_telegram_send_message(httpserver, http):
    httpserver.expect_request("/bot123:telegram-token-0004/sendMessage", method="POST").respond_with_json({"ok": True})
    report = make_summary(failed=True)
    assert telegram.send(run_event(report), {**base(httpserver), "chat_id": "-100200"}, SECRETS, http)
    assert httpserver.log[0][0].get_json() == {"chat_id": "-100200", "text": render.text(report)}


def test_uptime_kuma_up_and_down(httpserver, http):
    httpserver.expect_request("/api/push/kumatoken0005", method="GET").respond_with_json({"ok": True})
    uptime_kuma.send(run_event(make_summary(warning=True)), base(httpserver), SECRETS, http)
    uptime_kuma.send(run_event(make_summary(failed=True)), base(httpserver), SECRETS, http)
    assert uptime_kuma.send(Event(kind="start", host="h"), base(httpserver), SECRETS, http) is False
    queries = [dict(request.args) for request, _ in httpserver.log]
    assert queries == [{"status": "up", "msg": "[backup WARNING] srv03: 2 of 2 backups ok", "ping": ""},
                       {"status": "down", "msg": "[backup FAILED] srv03: 1 of 2 backups ok", "ping": ""}]


def test_healthchecks_start_success_fail_and_test(httpserver, http):
    for path in ("/hc-uuid-0006/start", "/hc-uuid-0006", "/hc-uuid-0006/fail", "/hc-uuid-0006/log"):
        httpserver.expect_request(path, method="POST").respond_with_data("OK")
    healthchecks.send(Event(kind="start", host="h"), base(httpserver), SECRETS, http)
    healthchecks.send(run_event(make_summary()), base(httpserver), SECRETS, http)
    failed = make_summary(failed=True)
    healthchecks.send(run_event(failed), base(httpserver), SECRETS, http)
    healthchecks.send(Event(kind="test", host="srv03"), base(httpserver), SECRETS, http)
    assert [request.path for request, _ in httpserver.log] == [
        "/hc-uuid-0006/start", "/hc-uuid-0006", "/hc-uuid-0006/fail", "/hc-uuid-0006/log"]
    assert httpserver.log[2][0].get_data(as_text=True) == render.text(failed)
