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
    assert f"rclone config file {tmp_path / 'absent.conf'} does not exist" in outcome.reason
