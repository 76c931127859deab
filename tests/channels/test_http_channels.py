"""Pushover, Telegram, Uptime Kuma and Healthchecks: the exact requests each service expects."""

import socket
from urllib.parse import parse_qs

import pytest

from tasks import render
from tasks.channels import ChannelError, Event, Http, deliver, healthchecks, pushover, telegram, uptime_kuma
from tests.channels.conftest import SECRETS, fails_at_once, make_summary, run_event
from tests.conftest import free_port


def base(httpserver) -> dict:
    return {"base_url": httpserver.url_for("").rstrip("/")}


def test_pushover_sends_only_critical_lines_at_low_priority(httpserver, http):
    httpserver.expect_request("/1/messages.json", method="POST").respond_with_json({"status": 1})
    assert pushover.send(run_event(make_summary(failed=True)), base(httpserver), SECRETS, http) is False
    report = make_summary(critical=True)
    assert pushover.send(run_event(report), base(httpserver), SECRETS, http) is True
    (request, _), = httpserver.log
    form = parse_qs(request.get_data(as_text=True))
    message = form.pop("message")[0]
    assert form == {"token": ["apptoken-0002"], "user": ["userkey-0003"], "priority": ["-1"],
                    "title": ["[backup FAILED] srv03: 1 of 2 backups ok"]}
    assert message.startswith("CRITICAL check_space:db: only 1.0 GiB free on remote:, below min_free_gb 200")
    assert "What to do: free space" in message


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


def test_uptime_kuma_sends_no_test_push(httpserver, http):
    """Its push API has no log-only call: a test "up" would clear a monitor that is down after a real failure."""
    assert uptime_kuma.send(Event(kind="test", host="srv03"), base(httpserver), SECRETS, http) is False
    assert uptime_kuma.TEST_SKIPPED == "a test push would mark the monitor up"
    assert httpserver.log == []


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


@pytest.mark.parametrize(("channel", "path"), [
    (pushover, "/1/messages.json"), (telegram, "/bot***/sendMessage"), (uptime_kuma, "/api/push/***"),
    (healthchecks, "/***/fail")])
def test_a_closed_port_fails_at_once_naming_the_url_with_the_secret_masked(channel, path, http):
    closed = free_port()
    settings = {"base_url": f"http://127.0.0.1:{closed}", "chat_id": "-100200"}
    name = channel.__name__.rpartition(".")[2]
    message = fails_at_once(name, channel, run_event(make_summary(critical=True)), settings, http)
    assert message == (f"{name}: connection refused: nothing listens at http://127.0.0.1:{closed}{path} "
                       "(after 1 attempt)")


def test_an_http_error_names_the_url_with_the_secret_masked(httpserver, http):
    httpserver.expect_request("/bot123:telegram-token-0004/sendMessage").respond_with_data(
        '{"ok":false,"description":"Unauthorized"}', status=401)
    with pytest.raises(ChannelError) as caught:
        deliver("telegram", telegram, run_event(make_summary()), {**base(httpserver), "chat_id": "-1"}, SECRETS,
                http, 3, 0.01)
    assert str(caught.value) == (f"telegram: HTTP 401 from {httpserver.url_for('/bot***/sendMessage')}: "
                                 '{"ok":false,"description":"Unauthorized"} (after 1 attempt)')


def test_a_service_that_accepts_but_never_answers_is_still_retried():
    with socket.socket() as silent:  # the kernel completes the connection; nobody ever reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(ChannelError) as caught:
            deliver("uptime_kuma", uptime_kuma, run_event(make_summary()), {"base_url": f"http://127.0.0.1:{port}"},
                    SECRETS, Http(timeout=0.2), 2, 0.01)
    assert str(caught.value) == (f"uptime_kuma: no answer from http://127.0.0.1:{port}/api/push/*** within 0.2 s "
                                 "(after 2 attempts)")
