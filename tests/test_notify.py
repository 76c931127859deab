"""Notifications at the end of real runs through the doit CLI, against one local HTTP server for all services."""

import json
import time
from urllib.parse import parse_qs

import pytest

from tests.conftest import free_port, make_files

SECRET_ENV = {"SENDGRID_API_KEY": "SG.planted-sendgrid-secret", "PUSHOVER_APP_TOKEN": "planted-pushover-app",
              "PUSHOVER_USER_KEY": "planted-pushover-user", "UPTIME_KUMA_PUSH_TOKEN": "plantedkumatoken",
              "HEALTHCHECKS_UUID": "planted-hc-uuid"}


@pytest.fixture
def services(httpserver):
    for path in ("/v3/mail/send", "/1/messages.json", "/api/push/plantedkumatoken", "/planted-hc-uuid/start",
                 "/planted-hc-uuid", "/planted-hc-uuid/fail", "/planted-hc-uuid/log"):
        httpserver.expect_request(path).respond_with_data("{}", status=202 if path == "/v3/mail/send" else 200)
    return httpserver


def configure(site, services, tmp_path, backups_ok=True, channels=("sendgrid", "pushover", "uptime_kuma",
                                                                    "healthchecks")):
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"f.txt": "data"})
    destination.mkdir(exist_ok=True)
    base = services.url_for("").rstrip("/")
    backups = [{"name": "good", "source_dir": str(source), "rclone_path": str(destination)}]
    if not backups_ok:
        backups.append({"name": "unplugged", "source_dir": str(tmp_path / "gone"), "rclone_path": str(destination)})
    settings = {name: {"base_url": base} for name in channels}
    if "sendgrid" in settings:
        settings["sendgrid"]["from"] = "backup@example.com"
    site.write_config(backups, email=["admin@example.com"],
                      notifications={"attempts": 3, "retry_wait_seconds": 0.01, **settings})


def requests_to(services, path):
    return [request for request, _ in services.log if request.path == path]


def test_failed_backup_sends_one_mail_with_the_failure_and_one_pushover_message(site, services, tmp_path):
    configure(site, services, tmp_path, backups_ok=False)
    run = site.doit(env=SECRET_ENV)
    assert run.returncode == 1
    (mail,) = requests_to(services, "/v3/mail/send")
    body = mail.get_json()
    assert body["subject"].startswith("[backup FAILED]") and body["subject"].endswith("1 of 2 backups ok")
    assert f"source folder '{tmp_path / 'gone'}' does not exist" in body["content"][0]["value"]
    assert body["personalizations"] == [{"to": [{"email": "admin@example.com"}]}]
    (push,) = requests_to(services, "/1/messages.json")
    form = parse_qs(push.get_data(as_text=True))
    assert form["priority"] == ["-1"] and "check_mounts:unplugged: source folder" in form["message"][0]
    (kuma,) = requests_to(services, "/api/push/plantedkumatoken")
    assert kuma.args["status"] == "down"
    assert [r.path for r, _ in services.log if r.path.startswith("/planted-hc-uuid")] == \
        ["/planted-hc-uuid/start", "/planted-hc-uuid/fail"]


def test_success_sends_the_mail_but_no_pushover(site, services, tmp_path):
    configure(site, services, tmp_path)
    run = site.doit(env=SECRET_ENV)
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(requests_to(services, "/v3/mail/send")) == 1
    assert requests_to(services, "/1/messages.json") == []
    assert requests_to(services, "/api/push/plantedkumatoken")[0].args["status"] == "up"
    assert [r.path for r, _ in services.log if r.path.startswith("/planted-hc-uuid")] == \
        ["/planted-hc-uuid/start", "/planted-hc-uuid"]


def test_only_problems_mode_sends_no_mail_for_a_good_run(site, services, tmp_path):
    configure(site, services, tmp_path)
    site.config_path.write_text(site.config_path.read_text() + "notify_on_success: false\n")
    assert site.doit(env=SECRET_ENV).returncode == 0
    assert requests_to(services, "/v3/mail/send") == []
    assert len(requests_to(services, "/api/push/plantedkumatoken")) == 1  # the monitor still hears from us


def test_sendgrid_500_is_retried_and_reported_while_pushover_still_goes_out(site, httpserver, tmp_path):
    httpserver.expect_request("/v3/mail/send").respond_with_data('{"errors":[{"message":"busy"}]}', status=500)
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1})
    configure(site, httpserver, tmp_path, backups_ok=False, channels=("sendgrid", "pushover"))
    run = site.doit(env=SECRET_ENV)
    assert run.returncode == 1
    assert len(requests_to(httpserver, "/v3/mail/send")) == 3
    assert len(requests_to(httpserver, "/1/messages.json")) == 1
    assert (f'notification failed: sendgrid: HTTP 500 from {httpserver.url_for("/v3/mail/send")}: '
            '{"errors":[{"message":"busy"}]} (after 3 attempts)') in run.stdout
    log = site.log_file.read_text()
    assert "sendgrid: HTTP 500 from" in log and "[backup FAILED]" in log
    assert json.loads((site.config_path.parent / "results" / "summary.json").read_text())["host"]


def test_a_service_error_that_echoes_the_secret_is_reported_with_the_secret_masked(site, httpserver, tmp_path):
    key, app_token = SECRET_ENV["SENDGRID_API_KEY"], SECRET_ENV["PUSHOVER_APP_TOKEN"]
    httpserver.expect_request("/v3/mail/send").respond_with_data(
        f'{{"errors":[{{"message":"overloaded while checking key {key}"}}]}}', status=500)
    httpserver.expect_request("/1/messages.json").respond_with_data(
        f'{{"token":"invalid: {app_token}","errors":["application token is invalid"],"status":0}}', status=400)
    configure(site, httpserver, tmp_path, backups_ok=False, channels=("sendgrid", "pushover"))
    run = site.doit(env=SECRET_ENV)
    assert run.returncode == 1
    assert len(requests_to(httpserver, "/v3/mail/send")) == 3 and len(requests_to(httpserver, "/1/messages.json")) == 1
    log = site.log_file.read_text()
    for text in (run.stdout, log):  # the service's error text is shown, with the secret in it masked
        assert '/v3/mail/send: {"errors":[{"message":"overloaded while checking key ***"}]}' in text, text
        assert '/1/messages.json: {"token":"invalid: ***","errors":["application token is invalid"]' in text, text
    written = [run.stdout, run.stderr, log]
    written += [path.read_text() for path in (site.config_path.parent / "results").iterdir()]
    for text in written:
        for secret in SECRET_ENV.values():
            assert secret not in text


def test_no_planted_secret_reaches_output_log_or_result_files(site, services, tmp_path):
    configure(site, services, tmp_path, backups_ok=False)
    run = site.doit(env=SECRET_ENV)
    written = [run.stdout, run.stderr, site.log_file.read_text()]
    written += [path.read_text() for path in (site.config_path.parent / "results").iterdir()]
    for text in written:
        for secret in SECRET_ENV.values():
            assert secret not in text


def test_test_notify_sends_through_every_channel_but_changes_no_monitor(site, services, tmp_path):
    configure(site, services, tmp_path)
    run = site.doit("test_notify", env=SECRET_ENV)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "sendgrid: sent" in run.stdout and "pushover: sent" in run.stdout
    assert requests_to(services, "/v3/mail/send")[0].get_json()["subject"].startswith("[backup TEST]")
    assert len(requests_to(services, "/1/messages.json")) == 1
    assert requests_to(services, "/planted-hc-uuid/log")
    assert not requests_to(services, "/planted-hc-uuid")  # a test never marks the check up
    # Uptime Kuma's push API has no log-only call: a test "up" would clear a monitor that is down after a failure
    assert not requests_to(services, "/api/push/plantedkumatoken")
    assert "uptime_kuma: skipped (a test push would mark the monitor up)" in run.stdout
    assert "uptime_kuma: sent" not in run.stdout


def test_test_notify_names_where_each_channel_failed_at_once_and_no_secret(site, tmp_path):
    closed = free_port()  # nothing listens there: each channel's connection is refused
    site.write_config([{"name": "b", "source_dir": str(tmp_path), "rclone_path": str(tmp_path / "nas")}],
                      email=["admin@example.com"], notifications={
                          "attempts": 2, "retry_wait_seconds": 10,
                          "telegram": {"base_url": f"http://127.0.0.1:{closed}", "chat_id": "1"},
                          "healthchecks": {"base_url": f"http://127.0.0.1:{closed}"},
                          "smtp": {"host": "127.0.0.1", "port": closed, "security": "none",
                                   "from": "backup@example.com"}})
    began = time.monotonic()
    run = site.doit("test_notify", env={**SECRET_ENV, "TELEGRAM_BOT_TOKEN": "123:planted-telegram-token"})
    elapsed = time.monotonic() - began
    assert run.returncode == 1
    assert elapsed < 8, f"{elapsed:.1f} s: a refused connection was retried"  # one retry would wait 10 s
    output = run.stdout + run.stderr
    for line in (f"telegram: connection refused: nothing listens at http://127.0.0.1:{closed}/bot***/sendMessage",
                 f"healthchecks: connection refused: nothing listens at http://127.0.0.1:{closed}/***/log",
                 f"smtp: connection refused: nothing listens at 127.0.0.1:{closed}"):
        assert line in output, output
    for text in (output, site.log_file.read_text()):
        assert "planted-telegram-token" not in text and SECRET_ENV["HEALTHCHECKS_UUID"] not in text


def test_missing_secret_stops_the_run_before_anything_happens(site, services, tmp_path):
    configure(site, services, tmp_path)
    run = site.doit(env={**SECRET_ENV, "PUSHOVER_USER_KEY": ""})
    assert run.returncode == 1
    assert "notifications.pushover: needs PUSHOVER_USER_KEY" in run.stderr
    assert services.log == [] and list((tmp_path / "nas").iterdir()) == []


def test_invalid_config_is_still_announced_when_the_notification_settings_are_sound(site, services, tmp_path):
    configure(site, services, tmp_path)
    site.config_path.write_text(site.config_path.read_text().replace("name: good", "name: good\n  retension: 3"))
    run = site.doit(env=SECRET_ENV)
    assert run.returncode == 1 and "retension: unknown field" in run.stderr
    (mail,) = requests_to(services, "/v3/mail/send")
    assert mail.get_json()["subject"].startswith("[backup FAILED]")
    assert "backup_copy_list[0] (good).retension: unknown field" in mail.get_json()["content"][0]["value"]
    (push,) = requests_to(services, "/1/messages.json")
    assert "invalid config" in parse_qs(push.get_data(as_text=True))["message"][0]
    assert list((tmp_path / "nas").iterdir()) == []
