"""Secrets come from the environment or a private file, and never show themselves."""

import os

import pytest

from tasks import config
from tasks.secrets import SecretsError, load
from tests.conftest import outcome_on_a_fifo
from tests.test_config import GOOD_BACKUP, load_document


def test_environment_wins_over_the_file(tmp_path):
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("# comment\nA=from-file\nB = 'quoted value'\n")
    secrets_file.chmod(0o600)
    found = load({"A", "B", "C"}, secrets_file, environ={"A": "from-env"})
    assert found["A"] == "from-env" and found["B"] == "quoted value" and "C" not in found


def test_a_readable_secrets_file_is_refused(tmp_path):
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("A=x\n")
    secrets_file.chmod(0o644)
    with pytest.raises(SecretsError, match=f"readable by other users .*chmod 600 {secrets_file}"):
        load({"A"}, secrets_file, environ={})


def test_a_malformed_line_is_named(tmp_path):
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("A=x\njust-a-token\n")
    secrets_file.chmod(0o600)
    with pytest.raises(SecretsError, match="line 2: expected NAME=value"):
        load({"A"}, secrets_file, environ={})


def test_secrets_never_show_and_mask_scrubs_them(tmp_path):
    found = load({"KEY"}, tmp_path / "absent", environ={"KEY": "SG.very-secret"})
    assert "SG.very-secret" not in repr(found) and "SG.very-secret" not in str(found)
    assert found.mask("error: key SG.very-secret refused") == "error: key *** refused"


def test_configured_channel_without_its_secret_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PUSHOVER_APP_TOKEN", raising=False)
    monkeypatch.setenv("PUSHOVER_USER_KEY", "u-key")
    with pytest.raises(config.ConfigError) as caught:
        load_document(tmp_path, {"secrets_file": str(tmp_path / "none.env"), "notifications": {"pushover": {}},
                                 "backup_copy_list": [GOOD_BACKUP]})
    assert "notifications.pushover: needs PUSHOVER_APP_TOKEN, set in the environment or" in str(caught.value)
    assert "PUSHOVER_USER_KEY" not in str(caught.value)


def test_mail_channel_needs_a_recipient_and_channel_settings_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.x")
    with pytest.raises(config.ConfigError) as caught:
        load_document(tmp_path, {"notifications": {"sendgrid": {"from": "nope"}, "smtp": {"host": "h"}},
                                 "backup_copy_list": [GOOD_BACKUP]})
    message = str(caught.value)
    assert "notifications.sendgrid.from: value does not match" in message
    assert "notifications.smtp.from: required field" in message


def test_unknown_channel_is_an_error(tmp_path):
    with pytest.raises(config.ConfigError, match="notifications.slack: unknown field"):
        load_document(tmp_path, {"notifications": {"slack": {}}, "backup_copy_list": [GOOD_BACKUP]})


ATTACKER = 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="plays another user: needs root (as the job runs)")
def test_a_secrets_file_another_user_owns_is_refused(tmp_path):
    """Another user's file, however private, holds their tokens: the run would send its summary to their bot."""
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("TELEGRAM_BOT_TOKEN=123:attacker\n")
    secrets_file.chmod(0o600)
    os.chown(secrets_file, ATTACKER, ATTACKER)
    with pytest.raises(SecretsError, match=f"secrets file {secrets_file} is owned by uid {ATTACKER}, not root"):
        load({"TELEGRAM_BOT_TOKEN"}, secrets_file, environ={})


def test_a_secrets_file_that_is_a_symbolic_link_is_refused(tmp_path):
    """No link games: even to a private file of root's, the link itself may be someone else's to repoint."""
    real = tmp_path / "real.env"
    real.write_text("A=x\n")
    real.chmod(0o600)
    link = tmp_path / "secrets.env"
    link.symlink_to(real)
    with pytest.raises(SecretsError, match=f"secrets file {link} is a symbolic link"):
        load({"A"}, link, environ={})
    dangling = tmp_path / "dangling.env"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(SecretsError, match="is a symbolic link"):  # not silently "no secrets file"
        load({"A"}, dangling, environ={})


def test_a_secrets_file_in_a_folder_others_may_write_is_refused(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    secrets_file = folder / "secrets.env"
    secrets_file.write_text("A=x\n")
    secrets_file.chmod(0o600)
    folder.chmod(0o777)
    with pytest.raises(SecretsError, match=f"is in folder {folder}, which is writable by other users: "
                                           f"chmod go-w {folder}"):
        load({"A"}, secrets_file, environ={})


def test_a_secrets_file_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "secrets.env"
    os.mkfifo(fifo, 0o600)  # reading it would wait for a writer forever
    outcome = outcome_on_a_fifo(fifo, lambda: load({"A"}, fifo, environ={}))
    assert isinstance(outcome, SecretsError) and "is not a regular file" in str(outcome)

