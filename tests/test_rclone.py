"""The rclone wrapper against the real binary: copy accounting, listings, free space, and secret masking."""

import logging

import pytest

from tasks import rclone as rc
from tasks.config import RcloneSettings
from tests.conftest import RCLONE, make_files

LOG = logging.getLogger("test")


def tool(config=None, flags=()) -> rc.Rclone:
    return rc.Rclone(RcloneSettings(binary=RCLONE, config=config, flags=tuple(flags)), timeout=30)


def write_list(path, names):
    path.write_text("".join(f"{name}\n" for name in names))
    return path


def test_copy_accounts_for_new_changed_and_unchanged_files(tmp_path):
    source, destination = tmp_path / "src", tmp_path / "dst"
    make_files(source, {"a": "1", "dir/b c #": "2", "ü": "3"})
    listed = write_list(tmp_path / "list", ["a", "dir/b c #", "ü"])
    first = tool().copy(source, str(destination), listed, LOG)
    assert (first.returncode, first.copied, first.identical, first.accounted) == (0, 3, 0, 3)
    make_files(source, {"a": "changed"})
    second = tool().copy(source, str(destination), listed, LOG)
    assert (second.copied, second.replaced, second.identical, second.accounted) == (1, 1, 2, 3)
    assert (destination / "a").read_text() == "changed"


def test_a_listed_file_that_vanished_is_not_accounted_for(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"here": "1"})
    outcome = tool().copy(source, str(tmp_path / "dst"), write_list(tmp_path / "list", ["here", "gone"]), LOG)
    assert outcome.returncode == 0 and outcome.accounted == 1  # rclone skips it silently; we count


def test_copy_failure_carries_rclones_error(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"a": "1"})
    (tmp_path / "dst").write_text("a file, not a folder")
    outcome = tool().copy(source, str(tmp_path / "dst"), write_list(tmp_path / "list", ["a"]), LOG)
    assert outcome.returncode != 0 and outcome.messages


def test_folders_probe_free_space_and_purge_on_a_local_folder(tmp_path):
    for name in ("x_2026-01-01", "x_2026-01-02"):
        make_files(tmp_path / "dst" / name, {"f": "f", "deeper/SHA256SUMS": "not at the top"})
    make_files(tmp_path / "dst", {"loose-file": "f", "x_2026-01-02/SHA256SUMS": "sums", "SHA256SUMS": "stray"})
    rclone = tool()
    names, sealed, files = rclone.folders(str(tmp_path / "dst"), "SHA256SUMS")
    assert (sorted(names), sealed) == (["x_2026-01-01", "x_2026-01-02"], {"x_2026-01-02"})
    assert files == {"loose-file", "SHA256SUMS"}
    assert rclone.folders(str(tmp_path / "absent"), "SHA256SUMS") == ([], set(), set())
    assert rclone.probe(str(tmp_path / "dst")) is True
    assert rclone.probe(str(tmp_path / "absent")) is False
    assert rclone.free_bytes(str(tmp_path)) > 0
    rclone.purge(rc.join(str(tmp_path / "dst"), "x_2026-01-01"))
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["SHA256SUMS", "loose-file", "x_2026-01-02"]


def test_version_is_read_from_the_binary():
    version, parts = tool().version()
    assert version.startswith("v") and parts >= rc.MINIMUM_VERSION


def test_missing_binary_is_a_clear_error():
    rclone = rc.Rclone(RcloneSettings(binary="/nonexistent/rclone", config=None, flags=()), timeout=5)
    with pytest.raises(rc.RcloneError, match="cannot run rclone \\(/nonexistent/rclone\\)"):
        rclone.version()


def test_webdav_reports_no_free_space_which_is_unknown_not_zero(webdav):
    assert tool(str(webdav.rclone_config)).free_bytes("offsite:") is None


def test_sftp_reports_free_space_and_lists_remotes_without_secrets(sftp):
    rclone = tool(str(sftp.rclone_config))
    assert rclone.free_bytes("offsite:") > 0
    assert rclone.remotes() == {"offsite": "sftp"}
    assert rclone.config_file() == sftp.rclone_config


@pytest.mark.parametrize("text, secret", [
    (":sftp,host=h,user=u,pass=Obscured123:dir", "Obscured123"),
    (":s3,access_key_id=AKID,secret_access_key='sec:ret':bucket", "sec:ret"),
    (':webdav,url="http://h/",bearer_token=tok-en:x', "tok-en"),
])
def test_redact_masks_secret_options(text, secret):
    masked = rc.redact(text)
    assert secret not in masked and "***" in masked


def test_join_builds_only_paths_one_level_below():
    assert rc.join("remote:", "x_2026-01-01") == "remote:x_2026-01-01"
    assert rc.join("remote:base", "x") == "remote:base/x"
    assert rc.join("/mnt/nas/", "x") == "/mnt/nas/x"
    for bad in ("", ".", "..", "a/b"):
        with pytest.raises(ValueError):
            rc.join("remote:base", bad)


def test_remote_names_and_kinds():
    assert rc.remote_name("onedrive:offsite") == "onedrive"
    assert rc.remote_name(":sftp,host=h:dir") is None
    assert rc.remote_name("/mnt/nas") is None
    assert rc.is_local("/mnt/nas") and not rc.is_local("onedrive:")
    assert rc.root_of("onedrive:offsite/deep") == "onedrive:" and rc.root_of("/mnt/nas") == "/mnt/nas"


def test_expired_token_is_explained_with_the_reconnect_command():
    # the shape rclone prints for an expired OneDrive token (see the notes); the live case is a fault test
    stderr = ('{"level":"critical","msg":"Failed to create file system for \\"onedrive:x\\": couldn\'t fetch '
              'token: invalid_grant: maybe token expired? - try refreshing with \\"rclone config reconnect '
              'onedrive:\\""}\n')
    message, needs_action = rc.explain(stderr)
    assert "`rclone config reconnect onedrive:`" in message and needs_action
