"""Server-side copy of unchanged files, end to end through the doit CLI against real `rclone serve s3|webdav|sftp`
on 127.0.0.1: a day-2 run copies on the server exactly the files whose sha256 matches the newest sealed folder,
uploads the rest, and today's folder is a complete copy of the source, sealed with the right sums.

"Day 1" is a real run whose dated folder is then renamed to an earlier date (its SHA256SUMS and SHA256SUMS.hmac
stay valid: they name files, not the folder).
"""

import datetime
import os
import subprocess

import pytest

from tests.conftest import RCLONE, make_files, sealed_listing


def dated(name: str, days_ago: int = 0) -> str:
    """The local date `ago` days before now, read at each use (a suite may run across midnight)."""
    return f"{name}_{(datetime.date.today() - datetime.timedelta(days=days_ago)).isoformat()}"


BIG = 200_000
FILES = {"a.bin": b"a" * BIG, "dir/b.bin": b"b" * BIG, "dir/c.txt": b"charlie", "d e #.txt": b"delta"}


@pytest.fixture
def source(tmp_path):
    make_files(tmp_path / "usb", FILES)
    return tmp_path / "usb"


S3_PATH = "offsite:bucket/backups"


def configure(site, source, server, rclone_path=S3_PATH, names=("web",), **extra):
    site.write_config([{"name": name, "source_dir": str(source), "rclone_path": rclone_path, **extra}
                       for name in names], rclone={"config": str(server.rclone_config)})


def through(server, *args: str) -> None:
    """Change the remote through the server (behind its back, its cached listing would go stale)."""
    subprocess.run([RCLONE, *args, "--config", str(server.rclone_config)], check=True, capture_output=True)


def day_one(site, server, rclone_path, names=("web",), days_ago: int = 1) -> None:
    """Run once and move today's folders `days_ago` days back."""
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    for name in names:
        through(server, "moveto", f"{rclone_path}/{dated(name)}", f"{rclone_path}/{dated(name, days_ago)}")


def expected(source) -> dict[str, bytes]:
    return {str(path.relative_to(source)): path.read_bytes() for path in source.rglob("*") if path.is_file()}


def metrics(site, name="web") -> dict:
    return site.result(f"backup:{name}")["metrics"]


def test_day_two_uploads_only_what_changed_and_copies_the_rest_on_the_server(site, source, s3):
    configure(site, source, s3)
    disk = s3.root / "bucket" / "backups"
    day_one(site, s3, S3_PATH)
    (source / "dir" / "b.bin").write_bytes(b"B" * BIG)          # edited, same size
    make_files(source, {"new.txt": "echo"})
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert sealed_listing(disk / dated("web")) == expected(source)
    found = metrics(site)
    assert found["server_side_copy"] == f"from {dated('web', 1)}"
    assert (found["server_side_files"], found["server_side_bytes"]) == (3, BIG + len("charlie") + len("delta"))
    assert found["uploaded_bytes"] == BIG + len("echo")
    assert "0 B uploaded" not in run.stdout and "copied on the server" in run.stdout
    rerun = site.doit()  # the same day again: everything is there already, nothing crosses the network
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert metrics(site)["uploaded_bytes"] == 0 and metrics(site)["copied"] == 0
    assert sealed_listing(disk / dated("web")) == expected(source)


def test_an_unchanged_source_uploads_nothing_and_the_summary_says_so(site, source, s3):
    configure(site, source, s3)
    disk = s3.root / "bucket" / "backups"
    day_one(site, s3, S3_PATH)
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    found = metrics(site)
    assert found["uploaded_bytes"] == 0 and found["server_side_files"] == len(FILES)
    assert "0 B uploaded, 390.6 KiB copied on the server" in run.stdout
    assert sealed_listing(disk / dated("web")) == expected(source)


def test_an_incomplete_newer_folder_is_never_the_model(site, source, s3, tmp_path):
    """Yesterday's run was interrupted (no SHA256SUMS) after a file was damaged there: the folder of two days
    ago is used, and nothing of yesterday's reaches today's folder."""
    configure(site, source, s3)
    disk = s3.root / "bucket" / "backups"
    day_one(site, s3, S3_PATH, days_ago=2)
    make_files(tmp_path / "damaged", {"a.bin": b"X" * BIG, "dir/b.bin": b"b" * BIG})
    through(s3, "copy", str(tmp_path / "damaged"), f"{S3_PATH}/{dated('web', 1)}")
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert metrics(site)["server_side_copy"] == f"from {dated('web', 2)}"
    assert sealed_listing(disk / dated("web")) == expected(source)


def test_a_file_that_rotted_in_the_sealed_folder_does_not_spread_to_today(site, source, s3, tmp_path):
    configure(site, source, s3)
    disk = s3.root / "bucket" / "backups"
    day_one(site, s3, S3_PATH)
    rotten = tmp_path / "rotten" / "a.bin"                     # same size, same time: rclone cannot tell
    make_files(rotten.parent, {"a.bin": b"a" * (BIG - 1) + b"!"})
    stamp = (source / "a.bin").stat().st_mtime
    os.utime(rotten, (stamp, stamp))
    through(s3, "copyto", "--ignore-times", str(rotten), f"{S3_PATH}/{dated('web', 1)}/a.bin")
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert sealed_listing(disk / dated("web")) == expected(source)
    assert f"copied on the server from {dated('web', 1)} did not match the source" in run.stdout
    assert f"verify:web date={dated('web', 1)[-10:]}" in run.stdout
    assert metrics(site)["uploaded_bytes"] == BIG


def test_an_edited_file_of_the_same_size_is_uploaded_where_the_remote_keeps_no_times_or_hashes(site, source, webdav):
    """rclone alone would copy yesterday's version on the server (same size is all it can compare there)."""
    webdav.write_rclone_config(vendor="other")
    configure(site, source, webdav, rclone_path="offsite:backups")
    disk = webdav.root / "backups"
    day_one(site, webdav, "offsite:backups")
    (source / "dir" / "c.txt").write_bytes(b"CHARLIE")
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert sealed_listing(disk / dated("web")) == expected(source)
    assert metrics(site)["verified"] == "size" and metrics(site)["server_side_files"] == 3
    assert "proven unchanged by sha256" in run.stdout
    (source / "a.bin").write_bytes(b"A" * BIG)                  # and again the same day
    rerun = site.doit()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert sealed_listing(disk / dated("web")) == expected(source)


def test_a_remote_that_claims_server_side_copy_but_uploads_is_warned_about_once(site, source, sftp):
    """rclone's sftp with copy_is_hardlink says it copies on the server; rclone's own sftp server cannot."""
    sftp.write_rclone_config(copy_is_hardlink="true")
    configure(site, source, sftp, rclone_path="offsite:backups", names=("web", "db"))
    disk = sftp.root / "backups"
    day_one(site, sftp, "offsite:backups", names=("web", "db"))
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("offers server-side copy but") == 1
    for name in ("web", "db"):
        assert sealed_listing(disk / dated(name)) == expected(source)
    assert metrics(site, "web")["uploaded_bytes"] + metrics(site, "db")["uploaded_bytes"] == 2 * sum(
        map(len, FILES.values()))


def test_server_side_copy_off_uploads_everything(site, source, s3):
    configure(site, source, s3, server_side_copy="off")
    day_one(site, s3, S3_PATH)
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert metrics(site)["server_side_copy"] == "off"
    assert metrics(site)["uploaded_bytes"] == sum(map(len, FILES.values()))


def test_sums_this_host_cannot_prove_are_not_trusted_to_pick_files(site, source, s3):
    configure(site, source, s3)
    disk = s3.root / "bucket" / "backups"
    day_one(site, s3, S3_PATH)
    through(s3, "deletefile", f"{S3_PATH}/{dated('web', 1)}/SHA256SUMS.hmac")
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "cannot be proven" in run.stdout
    assert metrics(site)["uploaded_bytes"] == sum(map(len, FILES.values()))
    assert sealed_listing(disk / dated("web")) == expected(source)


def test_a_file_edited_after_it_was_hashed_is_never_sealed_with_the_old_sum(site, source, s3, tmp_path):
    """Hashed first, uploaded next: an edit of the same size in between. Compared with the source, the copy would
    match (both new) and be sealed with the old sum; compared with this run's own md5, it does not."""
    configure(site, source, s3)
    day_one(site, s3, S3_PATH)
    (source / "dir" / "b.bin").write_bytes(b"B" * BIG)  # changed: uploaded, not copied on the server
    wrapper = tmp_path / "rclone-editing-the-source"
    wrapper.write_text(f"#!/bin/sh\nif [ \"$1\" = copy ] && [ \"$2\" = {source} ]; then\n"
                       f"  printf EDITED | dd of={source / 'dir' / 'b.bin'} conv=notrunc status=none\nfi\n"
                       f"exec {RCLONE} \"$@\"\n")
    wrapper.chmod(0o755)
    site.write_config([{"name": "web", "source_dir": str(source), "rclone_path": S3_PATH}],
                      rclone={"config": str(s3.rclone_config), "binary": str(wrapper)})
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "verification of offsite:bucket/backups/" in run.stdout and "1 differ (dir/b.bin)" in run.stdout
    assert not (s3.root / "bucket" / "backups" / dated("web") / "SHA256SUMS").exists()
