"""Each check against real folders and real rclone: what the administrator is told, and whether it stops."""

import pytest

from tasks import rclone as rc
from tasks.actions import checks
from tasks.job import perform
from tests.conftest import make_files, make_job


def check(work, tmp_path, source, destination, config=None, min_free_gb=0):
    """Run one check the way a run does, and return its result."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    return perform(make_job(state, source, destination, rclone_config=config, min_free_gb=min_free_gb), work)


def test_source_states(tmp_path):
    make_files(tmp_path / "full", {"f": "f"})
    (tmp_path / "empty").mkdir()
    make_files(tmp_path, {"plain-file": "x"})
    assert check(checks.check_source, tmp_path, tmp_path / "full", tmp_path).status == "ok"
    for source, words in ((tmp_path / "absent", "does not exist"), (tmp_path / "empty", "is empty"),
                          (tmp_path / "plain-file", "is not a folder")):
        outcome = check(checks.check_source, tmp_path, source, tmp_path)
        assert outcome.status == "failed" and words in outcome.reason and str(source) in outcome.reason


def test_local_destination_must_exist(tmp_path):
    outcome = check(checks.check_rclone, tmp_path, tmp_path, tmp_path / "unmounted-nas")
    assert outcome.status == "failed" and "does not exist: is its disk mounted?" in outcome.reason
    fine = check(checks.check_rclone, tmp_path, tmp_path, tmp_path)
    assert fine.status == "ok" and fine.metrics["rclone_version"].startswith("v")


def test_remote_folder_that_does_not_exist_yet_is_fine(sftp, tmp_path):
    outcome = check(checks.check_rclone, tmp_path, tmp_path, "offsite:new/folder", config=sftp.rclone_config)
    assert outcome.status == "ok", outcome.reason


def test_too_old_rclone_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "MINIMUM_VERSION", (99, 0, 0))
    outcome = check(checks.check_rclone, tmp_path, tmp_path, tmp_path)
    assert outcome.status == "warning" and "older than 99.0.0" in outcome.reason


@pytest.mark.parametrize("min_free_gb, status, words", [
    (0, "ok", "free space check of"),
    (10 ** 6, "failed", "below min_free_gb 1000000"),
    (0.001, "ok", None),
])
def test_free_space_against_the_minimum(tmp_path, min_free_gb, status, words):
    outcome = check(checks.check_space, tmp_path, tmp_path, tmp_path, min_free_gb=min_free_gb)
    assert outcome.status == status
    if words:
        assert words in outcome.alerts[0].message
    if status == "failed":
        assert outcome.alerts[0].level == "CRITICAL" and outcome.alerts[0].metrics["free_bytes"] > 0


def test_unknown_free_space_is_a_warning_and_does_not_stop_the_backup(webdav, tmp_path):
    outcome = check(checks.check_space, tmp_path, tmp_path, "offsite:", config=webdav.rclone_config, min_free_gb=1)
    assert outcome.status == "warning" and outcome.succeeded
    assert "does not report its free space" in outcome.reason


def test_named_remote_without_a_config_file_is_explained(tmp_path):
    outcome = check(checks.check_rclone, tmp_path, tmp_path, "offsite:dir", config=tmp_path / "absent.conf")
    assert outcome.status == "failed"
    assert f"rclone config file '{tmp_path / 'absent.conf'}' does not exist" in outcome.reason


def test_paths_in_messages_are_quoted_so_a_trailing_space_shows(tmp_path):
    outcome = check(checks.check_source, tmp_path, tmp_path / "usb ", tmp_path)
    assert f"source folder '{tmp_path / 'usb '}' does not exist" in outcome.reason
    outcome = check(checks.check_rclone, tmp_path, tmp_path, tmp_path / "nas ")
    assert f"destination folder '{tmp_path / 'nas '}' does not exist: is its disk mounted?" in outcome.reason


@pytest.mark.parametrize("written, meant", [("ncsftp", "ncsftp:"), ("ncsftp/offsite", "ncsftp:offsite")])
def test_a_forgotten_colon_is_pointed_out_when_the_remote_exists(tmp_path, written, meant):
    rclone_config = tmp_path / "rclone.conf"
    rclone_config.write_text("[ncsftp]\ntype = sftp\nhost = 127.0.0.1\nuser = backup\n")
    outcome = check(checks.check_rclone, tmp_path, tmp_path, written, config=rclone_config)
    assert outcome.status == "failed" and outcome.alerts[-1].level == "CRITICAL"
    assert f"'ncsftp' is an rclone remote: did you mean rclone_path: '{meant}' (with the colon)?" in outcome.reason
    other = check(checks.check_rclone, tmp_path, tmp_path, "elsewhere/offsite", config=rclone_config)
    assert "is its disk mounted?" in other.reason and "did you mean" not in other.reason


def test_too_little_free_space_says_which_key_to_change_and_where(tmp_path):
    outcome = check(checks.check_space, tmp_path, tmp_path, tmp_path, min_free_gb=10 ** 6)
    assert outcome.reason.endswith(f"lower `min_free_gb` (global, or for this backup) in "
                                   f"{tmp_path / 'state' / 'config.yaml'}, or free space")


def test_after_a_failed_rclone_check_free_space_adds_no_second_warning(site, sftp, tmp_path):
    """The same cause (the server is down) must be told once: by check_rclone, which skips the backup."""
    make_files(tmp_path / "usb", {"a.txt": "a"})
    site.write_config([{"name": "b", "source_dir": str(tmp_path / "usb"), "rclone_path": "offsite:dest"}],
                      min_free_gb=1, rclone={"config": str(sftp.rclone_config)}, check_timeout_seconds=10)
    sftp.stop()
    run = site.doit()
    assert site.result("check_rclone:b")["status"] == "failed", run.stdout
    space = site.result("check_space:b")
    assert space["status"] == "ok"
    assert [(alert["level"], alert["message"]) for alert in space["alerts"]] == [
        ("INFO", "free space not checked: check_rclone failed")]
    assert "free space of" not in run.stdout + run.stderr
    assert site.result("backup:b")["status"] == "skipped"
