"""A config problem blocks only what it must: a full run refuses any problem, but a restore of a backup whose own
entry is sound never waits on a chat token; `doit list` and `doit info` always answer. Through the real doit CLI."""

import pytest

from tasks import config
from tests.conftest import listing, make_files

SECRETS = {"TELEGRAM_BOT_TOKEN": ""}  # the environment must not supply what the test leaves out


@pytest.fixture
def backed_up(site, tmp_path):
    """Two backups that each have one sealed dated folder at a local destination."""
    source, nas = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"report.txt": "quarterly", "photos/cat.jpg": b"\xff\xd8 cat"})
    nas.mkdir()
    entries = [{"name": name, "source_dir": str(source), "rclone_path": str(nas)} for name in ("docs", "photos")]
    site.write_config(entries)
    first = site.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    return entries, nas


def break_notifications(site, entries, tmp_path):
    """A telegram channel whose token is nowhere to be found."""
    site.write_config(entries, secrets_file=str(tmp_path / "secrets.env"),
                      notifications={"telegram": {"chat_id": "42", "base_url": "http://127.0.0.1:9"}})


def test_a_missing_chat_token_blocks_the_full_run_but_not_a_restore(site, backed_up, tmp_path):
    entries, nas = backed_up
    break_notifications(site, entries, tmp_path)
    before = listing(nas)
    run = site.doit(env=SECRETS)
    assert run.returncode == 1
    assert "CRITICAL: invalid config, nothing was done" in run.stdout
    assert "notifications.telegram: needs TELEGRAM_BOT_TOKEN" in run.stdout
    one = site.doit("run", "backup:docs", env=SECRETS)
    assert one.returncode == 1 and "CRITICAL: invalid config, nothing was done" in one.stdout
    assert listing(nas) == before
    target = tmp_path / "restored"
    restore = site.doit("run", "restore:docs", f"target={target}", env=SECRETS)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "WARNING" in restore.stderr and "notifications.telegram: needs TELEGRAM_BOT_TOKEN" in restore.stderr
    assert listing(target)["report.txt"] == b"quarterly"
    for task in ("verify:docs", "drill:photos"):
        assert site.doit("run", task, env=SECRETS).returncode == 0


def test_a_secrets_file_others_can_read_blocks_sending_but_not_a_restore(site, backed_up, tmp_path):
    entries, _ = backed_up
    secrets = tmp_path / "secrets.env"
    secrets.write_text("TELEGRAM_BOT_TOKEN=123:abc\n")
    secrets.chmod(0o644)
    break_notifications(site, entries, tmp_path)
    restore = site.doit("run", "restore:docs", f"target={tmp_path / 'restored'}")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "secrets_file: secrets file" in restore.stderr and "chmod 600" in restore.stderr
    test = site.doit("test_notify")
    assert test.returncode == 1 and "chmod 600" in test.stdout + test.stderr
    assert "must be a task" not in test.stdout + test.stderr and "Traceback" not in test.stderr


def test_a_broken_backup_entry_blocks_only_that_backup(site, backed_up, tmp_path):
    entries, nas = backed_up
    site.write_config([entries[0], {**entries[1], "days": -1}])
    listed = site.doit("list")
    assert listed.returncode == 0
    assert "backup_copy_list[1] (photos).days: min value is 0" in listed.stderr.splitlines()[1]
    assert any(line.startswith("backup:docs") for line in listed.stdout.splitlines())
    assert any(line.startswith("backup:photos") and "NOT USABLE" in line for line in listed.stdout.splitlines())
    assert site.doit("run", "restore:docs", f"target={tmp_path / 'docs'}").returncode == 0
    refused = site.doit("run", "restore:photos", f"target={tmp_path / 'photos'}")
    assert refused.returncode == 1 and "backup_copy_list[1] (photos).days: min value is 0" in refused.stdout
    assert not (tmp_path / "photos").exists()
    before = listing(nas)
    assert site.doit().returncode == 1
    assert listing(nas) == before


@pytest.mark.parametrize("problem", ["notifications", "entry", "yaml"])
def test_info_and_list_never_print_a_traceback(site, backed_up, tmp_path, problem):
    entries, _ = backed_up
    if problem == "notifications":
        break_notifications(site, entries, tmp_path)
    elif problem == "entry":
        site.write_config([{**entries[0], "retention": 0}, entries[1]])
    else:
        site.config_path.write_text("backup_copy_list: [\n")
    for command in (["info", "backup:docs"], ["info", "restore:photos"], ["info", "no-such-task"], ["list"]):
        answer = site.doit(*command, env=SECRETS)
        assert "Traceback" not in answer.stdout + answer.stderr, (command, answer.stderr)
    unknown = site.doit("info", "no-such-task")
    assert unknown.returncode == 3 and 'no task is named "no-such-task"' in unknown.stderr


def test_a_missing_dash_that_merges_two_backups_is_named_with_both_lines(site, tmp_path):
    source, nas = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"a.txt": "a"})
    nas.mkdir()
    site.config_path.write_text(
        "min_free_gb: 0\n"
        "backup_copy_list:\n"
        f"  - name: first\n    source_dir: {source}\n    rclone_path: {nas}\n"
        f"    name: second\n    source_dir: {source}\n    rclone_path: {nas}\n")
    found = config.read(site.config_path)
    assert "backup_copy_list[0] (second).name: given twice, on line 3 and on line 6" in "\n".join(found.problems)
    assert found.backups == ()
    dry = site.doit("dry_run=1")
    assert dry.returncode == 1 and "backups ok" not in dry.stdout
    assert "given twice, on line 3 and on line 6" in dry.stdout
    assert list(nas.iterdir()) == []
