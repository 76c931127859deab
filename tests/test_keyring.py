"""Secrets in an encrypted keyring (`secrets_backend: keyring`), with the real keyrings.cryptfile backend in a
temporary file: stored without being shown, used by a run, and refused with a message that names what is wrong."""

import os
import subprocess

from tests.conftest import make_files

TOKEN = "4242:keyring-held-telegram-token"
MASTER = "correct horse battery staple"


def configure(site, tmp_path, httpserver, **keyring):
    make_files(tmp_path / "usb", {"a.txt": "alpha"})
    (tmp_path / "nas").mkdir()
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(tmp_path / "nas")}],
                      secrets_backend="keyring", keyring={"file": str(tmp_path / "keyring.cfg"), **keyring},
                      notifications={"telegram": {"base_url": httpserver.url_for("").rstrip("/"), "chat_id": "7"}})


def secret_set(site, value: str, name: str = "TELEGRAM_BOT_TOKEN", master: str | None = MASTER):
    """`doit secret_set name=…` with the value on a pipe, as a script would give it."""
    env = {key: value for key, value in os.environ.items() if key != "KEYRING_CRYPTFILE_PASSWORD"}
    if master:
        env["KEYRING_CRYPTFILE_PASSWORD"] = master
    return subprocess.run(site.doit_command("secret_set", f"name={name}"), input=f"{value}\n", capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_secret_stored_unseen_is_the_one_a_run_sends_with(site, tmp_path, httpserver):
    configure(site, tmp_path, httpserver)
    stored = secret_set(site, TOKEN)
    assert stored.returncode == 0, stored.stdout + stored.stderr
    assert "TELEGRAM_BOT_TOKEN stored in the keyring" in stored.stdout
    keyring_file = tmp_path / "keyring.cfg"
    assert keyring_file.stat().st_mode & 0o077 == 0
    assert TOKEN.encode() not in keyring_file.read_bytes() and b"keyring-held" not in keyring_file.read_bytes()
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage", method="POST").respond_with_json({"ok": True})
    sent = site.doit("test_notify", env={"KEYRING_CRYPTFILE_PASSWORD": MASTER})
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "telegram: sent" in sent.stdout
    assert len(httpserver.log) == 1 and httpserver.log[0][0].json["chat_id"] == "7"
    for text in (stored.stdout + stored.stderr, sent.stdout + sent.stderr, site.log_file.read_text()):
        assert TOKEN not in text and MASTER not in text


def test_the_master_password_can_come_from_a_file_only_its_owner_reads(site, tmp_path, httpserver):
    password_file = tmp_path / "keyring-pass"
    password_file.write_text(MASTER + "\n")
    password_file.chmod(0o600)
    configure(site, tmp_path, httpserver, password_file=str(password_file))
    assert secret_set(site, TOKEN, master=None).returncode == 0
    listed = site.doit("list", env={"KEYRING_CRYPTFILE_PASSWORD": ""})
    assert listed.returncode == 0 and "problem" not in listed.stderr, listed.stderr
    password_file.chmod(0o644)
    listed = site.doit("list", env={"KEYRING_CRYPTFILE_PASSWORD": ""})
    assert f"keyring password file {password_file} is readable by other users" in listed.stderr


def test_a_wrong_master_password_is_named_and_the_run_refuses(site, tmp_path, httpserver):
    configure(site, tmp_path, httpserver)
    assert secret_set(site, TOKEN).returncode == 0
    run = site.doit(env={"KEYRING_CRYPTFILE_PASSWORD": "not the master password"})
    assert run.returncode == 1
    assert f"keyring: the master password from $KEYRING_CRYPTFILE_PASSWORD does not open the keyring " \
           f"{tmp_path / 'keyring.cfg'}" in run.stdout + run.stderr
    assert list((tmp_path / "nas").iterdir()) == [] and httpserver.log == []
    assert "Traceback" not in run.stdout + run.stderr


def test_a_missing_secret_is_named_with_every_place_it_was_looked_for(site, tmp_path, httpserver):
    configure(site, tmp_path, httpserver)
    assert secret_set(site, "a-pushover-key", name="PUSHOVER_APP_TOKEN").returncode == 0  # the keyring exists
    listed = site.doit("list", env={"KEYRING_CRYPTFILE_PASSWORD": MASTER})
    assert "needs TELEGRAM_BOT_TOKEN, set in the environment, " in listed.stderr
    assert f"or the keyring {tmp_path / 'keyring.cfg'}" in listed.stderr


def test_secret_set_refuses_an_unknown_name_an_empty_value_and_a_config_without_the_keyring(site, tmp_path,
                                                                                            httpserver):
    configure(site, tmp_path, httpserver)
    unknown = secret_set(site, TOKEN, name="TELEGRAM_TOKEN")
    assert unknown.returncode != 0 and "NAME one of HEALTHCHECKS_UUID" in unknown.stdout + unknown.stderr
    empty = secret_set(site, "  ")
    assert empty.returncode != 0 and "no value given for TELEGRAM_BOT_TOKEN" in empty.stdout + empty.stderr
    assert not (tmp_path / "keyring.cfg").exists()
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(tmp_path / "nas")}])
    plain = secret_set(site, TOKEN)
    assert plain.returncode != 0 and "set `secrets_backend: keyring` there first" in plain.stdout + plain.stderr
