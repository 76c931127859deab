"""The job runs as root on shared servers: what other users can write must never steer it.

Each test plays one attack of another user (uid 65534, `nobody`): a config, secrets file or rclone binary they
own or can replace, a symbolic link planted as a state file, control characters in a file name, a token sent in
clear. The attacker's files are made with os.chown, or written by a process that really runs as 65534 (setpriv).
"""

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tasks import config, lock, logs, render, results
from tests.conftest import make_files, outcome_on_a_fifo

ATTACKER = 65534
AS_ATTACKER = ["setpriv", f"--reuid={ATTACKER}", f"--regid={ATTACKER}", "--clear-groups", "--"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="plays another user: needs root (as the job runs)")

GOOD_BACKUP = {"name": "docs", "source_dir": "/mnt/usb/docs", "rclone_path": "onedrive:offsite"}


def write_config(folder, document, mode=0o600):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    path.chmod(mode)
    return path


def as_attacker(*command: str) -> None:
    subprocess.run(AS_ATTACKER + list(command), check=True, capture_output=True)


def fake_rclone(path, marker):
    """A program that, run, leaves `marker` behind: proof that it ran (as root)."""
    path.write_text(f"#!/bin/sh\ntouch {marker}\n")
    path.chmod(0o755)
    return path


# 1. Files the job trusts: the config file, the secrets file, rclone.binary, and their folders

@needs_root
def test_a_config_file_another_user_owns_is_not_used_at_all(tmp_path):
    """The attacker's config could point log_file at /etc/shadow or rclone.binary at their program."""
    path = write_config(tmp_path / "etc", {"log_file": "/etc/shadow-would-be", "backup_copy_list": [GOOD_BACKUP]})
    os.chown(path, ATTACKER, ATTACKER)
    found = config.read(path)
    assert found.problems == (f"config file {path} is owned by uid {ATTACKER}, not root: chown root {path}",)
    assert found.backups == () and found.notifications is None
    assert found.log_file == config.PROJECT_ROOT / "log" / "backup.log"  # the default, not the attacker's
    with pytest.raises(config.ConfigError, match="not root: chown root"):
        config.load(path)


def test_a_config_file_others_may_write_is_refused(tmp_path):
    path = write_config(tmp_path / "etc", {"backup_copy_list": [GOOD_BACKUP]}, mode=0o666)
    found = config.read(path)
    assert found.problems == (f"config file {path} is writable by other users: chmod go-w {path}",)
    assert found.backups == ()


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777])
def test_a_config_folder_others_may_write_is_refused_unless_sticky(tmp_path, mode):
    """Without the sticky bit, whoever may write the folder may replace the file in it."""
    folder = tmp_path / "shared"
    path = write_config(folder, {"backup_copy_list": [GOOD_BACKUP]})
    folder.chmod(mode)
    found = config.read(path)
    if mode & 0o1000:
        assert found.problems == () and len(found.backups) == 1
    else:
        assert found.problems == (f"config file {path} is in folder {folder}, which is writable by other users: "
                                  f"chmod go-w {folder}",)


@needs_root
def test_a_config_folder_another_user_owns_is_refused(tmp_path):
    folder = tmp_path / "theirs"
    path = write_config(folder, {"backup_copy_list": [GOOD_BACKUP]})
    os.chown(folder, ATTACKER, ATTACKER)
    (problem,) = config.read(path).problems
    assert f"is in folder {folder}, owned by uid {ATTACKER}, not root: chown root {folder}" in problem


@needs_root
def test_a_symbolic_link_on_the_way_to_the_config_that_another_user_owns_is_refused(tmp_path):
    """In a sticky folder like /tmp, the attacker's link could be pointed elsewhere at any time."""
    real = write_config(tmp_path / "etc", {"backup_copy_list": [GOOD_BACKUP]})
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    link = sticky / "config.yaml"
    link.symlink_to(real)
    os.lchown(link, ATTACKER, ATTACKER)
    found = config.read(link)
    assert found.problems == (f"config file {link} goes through symbolic link {link}, owned by uid {ATTACKER}, "
                              f"not root: chown -h root {link}",)


def test_ownership_is_only_enforced_when_running_as_root(tmp_path, monkeypatch):
    path = write_config(tmp_path / "etc", {"backup_copy_list": [GOOD_BACKUP]})
    if os.geteuid() == 0:
        os.chown(path, ATTACKER, ATTACKER)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert config.read(path).problems == ()
    path.chmod(0o646)
    assert "is writable by other users: chmod go-w" in config.read(path).problems[0]


@needs_root
def test_an_rclone_binary_another_user_owns_is_never_run(site, tmp_path):
    """The attack itself: root runs the attacker's program. Only the backup that uses it is refused."""
    marker = tmp_path / "ran-as-root"
    tools = tmp_path / "tools"
    tools.mkdir()
    fake = fake_rclone(tools / "rclone", marker)
    os.chown(fake, ATTACKER, ATTACKER)
    source, nas = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"a.txt": "a"})
    nas.mkdir()
    site.write_config([{"name": "docs", "source_dir": str(source), "rclone_path": str(nas),
                        "rclone": {"binary": str(fake)}},
                       {"name": "photos", "source_dir": str(source), "rclone_path": str(nas)}])
    run = site.doit()
    assert not marker.exists(), "root ran the other user's program"
    assert run.returncode == 1
    assert (f"backup_copy_list[0] (docs).rclone.binary: rclone.binary {fake} is owned by uid {ATTACKER}, not root: "
            f"chown root {fake}") in run.stdout
    listed = site.doit("list")
    assert any(line.startswith("backup:docs") and "NOT USABLE" in line for line in listed.stdout.splitlines())
    assert any(line.startswith("backup:photos") and "NOT USABLE" not in line for line in listed.stdout.splitlines())
    assert not marker.exists()


def test_a_global_rclone_binary_in_a_folder_others_may_write_blocks_every_backup(tmp_path):
    """Another user swaps the program in the folder; every backup runs with the global binary."""
    tools = tmp_path / "tools"
    tools.mkdir()
    fake = fake_rclone(tools / "rclone", tmp_path / "ran")
    tools.chmod(0o777)
    path = write_config(tmp_path / "etc", {"rclone": {"binary": str(fake)},
                                            "backup_copy_list": [GOOD_BACKUP, {**GOOD_BACKUP, "name": "b"}]})
    found = config.read(path)
    assert found.problems == (f"rclone.binary: rclone.binary {fake} is in folder {tools}, which is writable by other "
                              f"users: chmod go-w {tools}",)
    assert found.backups == () and found.unusable_backups == ("b", "docs")
    assert found.notifications is not None  # the notifications do not use rclone


def test_an_rclone_binary_found_on_path_is_checked_where_it_is(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = fake_rclone(tools / "rclone-evil", tmp_path / "ran")
    fake.chmod(0o777)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    path = write_config(tmp_path / "etc", {"backup_copy_list": [{**GOOD_BACKUP, "rclone": {"binary": "rclone-evil"}}]})
    assert config.read(path).problems == (f"backup_copy_list[0] (docs).rclone.binary: rclone.binary {fake} is "
                                          f"writable by other users: chmod go-w {fake}",)


def test_an_rclone_config_others_may_write_is_refused(tmp_path):
    """rclone.conf can name a program for rclone to run (sftp's `ssh` option)."""
    rclone_conf = tmp_path / "rclone.conf"
    rclone_conf.write_text("[offsite]\ntype = sftp\nssh = /tmp/evil\n")
    rclone_conf.chmod(0o666)
    path = write_config(tmp_path / "etc", {"backup_copy_list": [
        {**GOOD_BACKUP, "rclone": {"config": str(rclone_conf)}}]})
    assert config.read(path).problems == (f"backup_copy_list[0] (docs).rclone.config: rclone.config {rclone_conf} is "
                                          f"writable by other users: chmod go-w {rclone_conf}",)


@needs_root
def test_an_unsafe_secrets_file_blocks_the_notifications_not_the_backups(tmp_path, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("TELEGRAM_BOT_TOKEN=123:attacker-bot\n")
    secrets_file.chmod(0o600)
    os.chown(secrets_file, ATTACKER, ATTACKER)
    path = write_config(tmp_path / "etc", {"secrets_file": str(secrets_file), "backup_copy_list": [GOOD_BACKUP],
                                           "notifications": {"telegram": {"chat_id": "42"}}})
    found = config.read(path)
    assert found.problems == (f"secrets_file: secrets file {secrets_file} is owned by uid {ATTACKER}, not root: "
                              f"chown root {secrets_file}",)
    assert found.notifications is None and [backup.name for backup in found.backups] == ["docs"]


def test_a_warning_names_a_password_in_a_config_file_others_may_read(tmp_path):
    """`cp var/config.example.yaml var/config.yaml` makes it 0644; an on-the-fly remote puts a password in it."""
    remote = ":sftp,host=nas,user=backup,pass=obscured-secret:backups"
    path = write_config(tmp_path / "etc", {"backup_copy_list": [{**GOOD_BACKUP, "rclone_path": remote}]},
                        mode=0o644)
    found = config.read(path)
    assert found.problems == () and len(found.backups) == 1  # a warning blocks nothing
    assert found.warnings == (f"backup_copy_list[0] (docs).rclone_path holds a password or key, and the file is "
                              f"readable by other users (mode -rw-r--r--): chmod 600 {path}",)
    assert "obscured-secret" not in found.warning_report()
    path.chmod(0o600)
    assert config.read(path).warnings == ()
    plain = write_config(tmp_path / "other", {"backup_copy_list": [GOOD_BACKUP]}, mode=0o644)
    assert config.read(plain).warnings == ()


def test_the_warning_is_printed_with_the_config_problems(site, tmp_path):
    site.write_config([{"name": "fly", "source_dir": str(tmp_path / "usb"),
                        "rclone_path": ":sftp,host=127.0.0.1,pass=obscured-secret:fly"}])
    site.config_path.chmod(0o644)
    listed = site.doit("list")
    assert listed.returncode == 0
    assert (f"WARNING: {site.config_path}: backup_copy_list[0] (fly).rclone_path holds a password or key"
            in listed.stderr
            and f"chmod 600 {site.config_path}" in listed.stderr)
    assert "obscured-secret" not in listed.stderr + listed.stdout + site.log_file.read_text()


# 2. State files never followed through a symbolic link; state folders the tool's own

@pytest.fixture
def no_lock_held(monkeypatch):
    monkeypatch.setattr(lock, "_held", [])
    yield
    for descriptor in lock._held:
        os.close(descriptor)


def victim_file(tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("root:$6$precious:19000:0:99999:7:::\n")
    victim.chmod(0o600)
    return victim


@pytest.fixture
def shared_tmp():
    """A folder other users can reach (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="shared-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@needs_root
def test_a_lock_link_planted_by_another_user_never_truncates_its_target(tmp_path, shared_tmp, no_lock_held):
    """A state folder others may write: the attacker plants run.lock -> /etc/shadow; root would truncate it."""
    victim = victim_file(tmp_path)
    state = shared_tmp / "var"
    state.mkdir()
    state.chmod(0o777)
    as_attacker("ln", "-s", str(victim), str(state / "run.lock"))
    with pytest.raises(lock.LockHeld, match=f"state folder {state} is writable by other users: chmod go-w {state}"):
        lock.acquire(state / "run.lock", 0)
    assert victim.read_text() == "root:$6$precious:19000:0:99999:7:::\n"


def test_a_lock_file_that_is_a_symbolic_link_is_refused(tmp_path, no_lock_held):
    victim = victim_file(tmp_path)
    state = tmp_path / "var"
    state.mkdir()
    (state / "run.lock").symlink_to(victim)
    with pytest.raises(lock.LockHeld, match="lock file .*run.lock is a symbolic link"):
        lock.acquire(state / "run.lock", 0)
    assert victim.read_text().startswith("root:$6$precious")


def test_a_lock_file_hard_linked_to_another_file_is_refused(tmp_path, no_lock_held):
    victim = victim_file(tmp_path)
    state = tmp_path / "var"
    state.mkdir()
    os.link(victim, state / "run.lock")
    with pytest.raises(lock.LockHeld, match="has 2 names"):
        lock.acquire(state / "run.lock", 0)
    assert victim.read_text().startswith("root:$6$precious")


@needs_root
def test_a_state_folder_another_user_owns_is_refused(tmp_path, no_lock_held):
    state = tmp_path / "var"
    state.mkdir(mode=0o700)
    os.chown(state, ATTACKER, ATTACKER)
    with pytest.raises(lock.LockHeld, match=f"state folder {state} is owned by uid {ATTACKER}, not root"):
        lock.acquire(state / "run.lock", 0)
    assert not (state / "run.lock").exists()


def test_the_lock_and_its_new_folder_are_private(tmp_path, no_lock_held):
    state = tmp_path / "new" / "var"
    lock.acquire(state / "run.lock", 0)
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "run.lock").stat().st_mode & 0o777 == 0o600


@pytest.fixture
def fresh_log(monkeypatch):
    """logs.setup as in a new process; the handlers it adds are closed afterwards."""
    logger = logging.getLogger(logs.LOGGER)
    saved = logger.handlers[:]
    logger.handlers.clear()
    monkeypatch.setattr(logger, "propagate", True)  # else pytest adds its capturing handlers to it, too
    monkeypatch.setattr(logs, "_failures", [])
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:] = saved


def test_a_log_file_that_is_a_symbolic_link_is_never_written_through(tmp_path, fresh_log, capsys):
    victim = victim_file(tmp_path)
    log_file = tmp_path / "log" / "backup.log"
    log_file.parent.mkdir()
    log_file.symlink_to(victim)
    logs.setup(log_file)
    fresh_log.error("root:0:0::appended-by-the-run")
    assert victim.read_text() == "root:$6$precious:19000:0:99999:7:::\n"
    assert f"log file {log_file} is a symbolic link" in logs.failure()
    assert "symbolic link" in capsys.readouterr().err


def test_a_log_folder_others_may_write_is_refused(tmp_path, fresh_log):
    folder = tmp_path / "log"
    folder.mkdir()
    folder.chmod(0o777)
    logs.setup(folder / "backup.log")
    assert f"log folder {folder} is writable by other users: chmod go-w {folder}" in logs.failure()
    assert not (folder / "backup.log").exists()


@needs_root
def test_a_sticky_log_folder_is_used_but_not_a_log_file_another_user_put_there(shared_tmp, fresh_log):
    """As /tmp (or a tmpfs): others may create files, never replace the tool's; what they create is refused."""
    folder = shared_tmp / "log"
    folder.mkdir()
    folder.chmod(0o1777)
    as_attacker("touch", str(folder / "backup.log"))
    logs.setup(folder / "backup.log")
    assert f"log file {folder / 'backup.log'} is owned by uid {ATTACKER}, not root" in logs.failure()


def test_a_sticky_log_folder_is_used(tmp_path, fresh_log):
    folder = tmp_path / "log"
    folder.mkdir()
    folder.chmod(0o1777)
    logs.setup(folder / "backup.log")
    fresh_log.error("written")
    assert logs.failure() is None and "written" in (folder / "backup.log").read_text()


@needs_root
def test_a_results_folder_another_user_owns_or_links_elsewhere_is_refused(tmp_path):
    result = results.Result(task="backup:docs", backup="docs", run_id="r")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, ATTACKER, ATTACKER)
    with pytest.raises(Exception, match=f"results folder {theirs} is owned by uid {ATTACKER}"):  # file_safety.Unsafe
        results.write(theirs, result)
    assert list(theirs.iterdir()) == []
    elsewhere = tmp_path / "etc-cron.d"
    elsewhere.mkdir()
    state = tmp_path / "var"
    state.mkdir()
    (state / "results").symlink_to(elsewhere)
    with pytest.raises(Exception, match="results folder .* is a symbolic link"):
        results.write(state / "results", result)
    assert list(elsewhere.iterdir()) == []


def test_a_result_file_that_is_a_symbolic_link_is_not_read(tmp_path):
    folder = tmp_path / "results"
    written = results.write(folder, results.Result(task="backup:docs", backup="docs", run_id="r"))
    assert results.read(folder, "backup:docs", "r") is not None
    elsewhere = tmp_path / "planted.json"
    written.rename(elsewhere)
    written.symlink_to(elsewhere)
    assert results.read(folder, "backup:docs", "r") is None
    fifo = folder / "check_space-docs.json"
    os.mkfifo(fifo)  # would block a reader forever
    assert outcome_on_a_fifo(fifo, lambda: results.read(folder, "check_space:docs", "r")) is None


def test_a_result_written_over_a_planted_link_replaces_the_link(tmp_path):
    victim = victim_file(tmp_path)
    folder = tmp_path / "results"
    folder.mkdir(mode=0o700)
    (folder / "backup-docs.json").symlink_to(victim)
    results.write(folder, results.Result(task="backup:docs", backup="docs", run_id="r"))
    assert victim.read_text().startswith("root:$6$precious")
    assert not (folder / "backup-docs.json").is_symlink()
    assert (folder / "backup-docs.json").stat().st_mode & 0o777 == 0o600


# 3. Control characters of file names: in the log (render's own texts are tested in test_summary.py)

NAME = "\x1b]0;you have been pwned\x07\x1b[2J.txt"


def test_the_log_shows_control_characters_of_names_as_escapes(tmp_path, fresh_log):
    """An escape sequence in a file name must not reach the terminal of whoever reads the log, nor a line break
    forge a log line."""
    log_file = tmp_path / "log" / "backup.log"
    logs.setup(log_file)
    fresh_log.warning("cannot read %s", NAME + "\n2026-01-01 00:00:00 INFO     backup: all is well")
    fresh_log.error("copy failed: " + NAME)  # a name put into the message itself
    text = log_file.read_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "cannot read \\x1b]0;you have been pwned\\x07\\x1b[2J.txt\\n2026-01-01 00:00:00 INFO" in text
    assert not any(line.startswith("2026-01-01") for line in text.splitlines())
    assert "copy failed: \\x1b]0;you" in text


def test_the_summary_keeps_its_lines_in_the_log(tmp_path, fresh_log):
    log_file = tmp_path / "log" / "backup.log"
    logs.setup(log_file)
    fresh_log.info("summary\n%s", render.printable_lines(["title", f"  OK  {NAME}"]))
    assert "summary\ntitle\n  OK  \\x1b]0;" in log_file.read_text()


# 4. Tokens and passwords never sent in clear

@pytest.mark.parametrize("url, problem", [
    ("http://api.telegram.example", "http:// would send this channel's token unencrypted to api.telegram.example: "
                                    "use https://"),
    ("ftp://api.telegram.example", "must be an https:// address"),
    ("https://api.telegram.org", None),
    ("http://127.0.0.1:8080", None),
    ("http://127.9.9.9", None),
    ("http://localhost:9", None),
    ("http://[::1]:9", None),
])
def test_a_channel_token_goes_over_https_or_stays_on_this_machine(tmp_path, monkeypatch, url, problem):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:token")
    path = write_config(tmp_path / "etc", {"notifications": {"telegram": {"chat_id": "1", "base_url": url}},
                                           "backup_copy_list": [GOOD_BACKUP]})
    found = config.read(path)
    if problem is None:
        assert found.problems == () and found.notifications is not None
    else:
        assert found.problems == (f"notifications.telegram.base_url: {problem}"
                                  + (" (plain http only to this machine: localhost, 127.0.0.1, ::1)"
                                     if problem.startswith("http://") else ""),)
        assert found.notifications is None and len(found.backups) == 1


@pytest.mark.parametrize("channel", ["sendgrid", "pushover", "uptime_kuma", "healthchecks"])
def test_every_channel_with_a_base_url_refuses_plain_http(tmp_path, monkeypatch, channel):
    for name in ("SENDGRID_API_KEY", "PUSHOVER_APP_TOKEN", "PUSHOVER_USER_KEY", "UPTIME_KUMA_PUSH_TOKEN",
                 "HEALTHCHECKS_UUID"):
        monkeypatch.setenv(name, "x" * 8)
    settings = {"base_url": "http://monitor.example.com"} | ({"from": "b@example.com"} if channel == "sendgrid" else {})
    path = write_config(tmp_path / "etc", {"email": ["a@example.com"], "notifications": {channel: settings},
                                           "backup_copy_list": [GOOD_BACKUP]})
    assert config.read(path).problems[0].startswith(f"notifications.{channel}.base_url: http:// would send")


@pytest.mark.parametrize("host, refused", [("smtp.example.com", True), ("127.0.0.1", False), ("localhost", False)])
def test_an_smtp_login_without_encryption_is_refused_unless_to_this_machine(tmp_path, monkeypatch, host, refused):
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-secret")
    smtp = {"host": host, "port": 25, "security": "none", "from": "b@example.com", "username": "backup"}
    path = write_config(tmp_path / "etc", {"email": ["a@example.com"], "notifications": {"smtp": smtp},
                                           "backup_copy_list": [GOOD_BACKUP]})
    found = config.read(path)
    if refused:
        assert found.problems == (f"notifications.smtp.security: `none` would send the password of `username` "
                                  f"unencrypted to {host}: use starttls or ssl (none only to a relay on this machine: "
                                  "localhost, 127.0.0.1, ::1)",)
        assert found.notifications is None
    else:
        assert found.problems == () and found.notifications is not None
    del smtp["username"]
    relay = write_config(tmp_path / "relay", {"email": ["a@example.com"], "notifications": {"smtp": smtp},
                                              "backup_copy_list": [GOOD_BACKUP]})
    assert config.read(relay).problems == ()  # no password to expose
