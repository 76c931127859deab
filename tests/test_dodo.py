"""End to end through the real doit CLI, real rclone, real folders and an sftp server on 127.0.0.1."""

import datetime
import fcntl
import os
import socket
import subprocess
import time

import pytest

from tests.conftest import listing, make_dated_folder, make_files, obscure, sealed_listing


def day(ago: int = 0) -> datetime.date:
    """The local date `ago` days before now, read at each use (never at import: a suite may run across midnight)."""
    return datetime.date.today() - datetime.timedelta(days=ago)


def dated(name: str, days_ago: int = 0) -> str:
    return f"{name}_{day(days_ago).isoformat()}"


def backup(name, source, destination, **extra) -> dict:
    return {"name": name, "source_dir": str(source), "rclone_path": str(destination), **extra}


@pytest.fixture
def folders(tmp_path):
    source, destination = tmp_path / "usb", tmp_path / "nas"
    destination.mkdir()
    make_files(source, {"today.txt": ("fresh", 0), "sub/dir/yesterday.txt": ("from yesterday", 1),
                        "sub/last-month.txt": ("old", 30), "names/with space #1 ünï.txt": ("odd", 0)})
    return source, destination


def test_normal_run_copies_young_files_with_subfolders_into_a_dated_folder(site, folders):
    source, destination = folders
    site.write_config([backup("usb1", source, destination, days=2)])
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    copied = destination / dated("usb1")
    assert sealed_listing(copied) == {"today.txt": b"fresh", "sub/dir/yesterday.txt": b"from yesterday",
                               "names/with space #1 ünï.txt": b"odd"}
    assert "[backup OK]" in run.stdout and "1 of 1 backups ok" in run.stdout
    assert "usb1: 3 files, 22 B, newest " + day().isoformat() in run.stdout
    result = site.result("backup:usb1")
    assert (result["status"], result["files"], result["bytes"]) == ("ok", 3, 22)
    assert result["destination"] == str(copied)
    assert result["newest_file"] == day().isoformat()
    assert "Traceback" not in run.stderr


def test_second_run_the_same_day_fills_the_same_folder(site, folders):
    source, destination = folders
    site.write_config([backup("usb1", source, destination)])
    assert site.doit().returncode == 0
    make_files(source, {"today.txt": ("changed content", 0), "later.txt": ("added", 0)})
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert [p.name for p in destination.iterdir() if p.is_dir()] == [dated("usb1")]
    copied = sealed_listing(destination / dated("usb1"))
    assert copied["today.txt"] == b"changed content" and copied["later.txt"] == b"added"
    assert len(copied) == 5
    metrics = site.result("backup:usb1")["metrics"]
    assert (metrics["copied"], metrics["identical"]) == (2, 3)


def test_over_the_size_cap_nothing_is_copied_or_pruned(site, folders):
    source, destination = folders
    make_files(source, {"big.bin": (b"\0" * (2 * 1024 * 1024), 0)})
    make_dated_folder(destination / dated("usb1", 5))
    make_dated_folder(destination / dated("usb1", 6))
    site.write_config([backup("usb1", source, destination, max_size_mb=1, retention=1)])
    run = site.doit()
    assert run.returncode == 1
    assert sorted(p.name for p in destination.iterdir()) == [dated("usb1", 6), dated("usb1", 5)]
    assert "exceed max_size_mb 1. Nothing copied, nothing pruned" in run.stdout
    assert site.result("backup:usb1")["status"] == "failed"


MIB = 1024 * 1024


@pytest.mark.parametrize("over", [0, 1], ids=["exactly-the-cap", "one-byte-over"])
def test_size_cap_copies_a_total_of_exactly_max_size_mb_and_refuses_one_byte_more(site, tmp_path, over):
    """max_size_mb refuses only a total that EXCEEDS it: exactly max_size_mb x 1,048,576 bytes is copied."""
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"dump.bin": (b"d" * (MIB - 1000), 0), "sub/tail.bin": (b"t" * (1000 + over), 0)})
    old = [make_dated_folder(destination / dated("usb1", age)) for age in (1, 2, 3)]
    before = {folder.name: listing(folder) for folder in old}
    site.write_config([backup("usb1", source, destination, max_size_mb=1, retention=1)])
    run = site.doit()
    result = site.result("backup:usb1")
    assert result["bytes"] == MIB + over
    if not over:
        assert run.returncode == 0, run.stdout + run.stderr
        copied = listing(destination / dated("usb1"))
        assert {name: copied.get(name) for name in listing(source)} == listing(source) and "SHA256SUMS" in copied
        assert sorted(result["pruned"]) == sorted(before)  # a run that goes through does prune these
        return
    assert run.returncode == 1, run.stdout + run.stderr
    assert "exceed max_size_mb 1" in run.stdout and result["status"] == "failed"
    assert {folder.name: listing(folder) for folder in destination.iterdir()} == before  # none copied, none pruned


def test_missing_source_and_empty_mount_point_are_refused_by_name(site, folders, tmp_path):
    source, destination = folders
    empty = tmp_path / "mnt" / "usb2"
    empty.mkdir(parents=True)
    make_dated_folder(destination / dated("gone", 3))
    make_dated_folder(destination / dated("gone", 4))
    make_dated_folder(destination / dated("gone", 5))
    site.write_config([backup("gone", tmp_path / "nowhere", destination, retention=1),
                       backup("unmounted", empty, destination)])
    run = site.doit()
    assert run.returncode == 1
    assert f"source folder '{tmp_path / 'nowhere'}' does not exist" in run.stdout
    assert f"source folder '{empty}' is empty: the disk is probably not mounted" in run.stdout
    assert "0 of 2 backups ok" in run.stdout
    assert sorted(p.name for p in destination.iterdir()) == [dated("gone", 5), dated("gone", 4), dated("gone", 3)]
    assert site.result("backup:gone")["status"] == "skipped"


def test_one_bad_backup_does_not_stop_the_others(site, folders, tmp_path):
    source, destination = folders
    site.write_config([backup("first", source, destination),
                       backup("broken", tmp_path / "unplugged", destination),
                       backup("last", source, destination, days=1)])
    run = site.doit()
    assert run.returncode == 1
    assert (destination / dated("first")).is_dir() and (destination / dated("last")).is_dir()
    assert not (destination / dated("broken")).exists()
    assert "[backup FAILED]" in run.stdout and "2 of 3 backups ok" in run.stdout
    assert "SKIPPED  broken: skipped because check_mounts:broken failed" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_running_one_backup_reports_its_own_failure(site, folders, tmp_path):
    source, destination = folders
    site.write_config([backup("good", source, destination), backup("bad", tmp_path / "nope", destination)])
    good = site.doit("run", "backup:good")
    assert good.returncode == 0 and "1 of 1 backups ok" in good.stdout
    assert (destination / dated("good")).is_dir()
    bad = site.doit("run", "backup:bad")
    assert bad.returncode == 1 and "0 of 1 backups ok" in bad.stdout and "does not exist" in bad.stdout


def test_nothing_young_enough_warns_with_the_newest_date_and_prunes_nothing(site, tmp_path):
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"stale.txt": ("s", 10)})
    destination.mkdir()
    for age in (20, 21, 22):
        make_dated_folder(destination / dated("usb1", age))
    site.write_config([backup("usb1", source, destination, days=2, retention=1)])
    run = site.doit()
    newest = day(10).isoformat()
    assert f"nothing newer than 2 days in {source}; newest file is from {newest}" in run.stdout
    assert len([path for path in destination.iterdir() if path.is_dir()]) == 3
    # the newest offsite copy is 20 days old: that is the stale alarm's business, and cron must hear of it
    assert run.returncode == 1
    assert "No recent complete copy: usb1 (20 d)" in run.stdout


def test_retention_by_count_and_by_period_leaves_foreign_folders_alone(site, tmp_path):
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"f.txt": "f"})
    destination.mkdir()
    ages = range(1, 100)
    for age in ages:
        make_dated_folder(destination / dated("db", age))
    foreign = ["db2_2026-01-01", "other_" + day().isoformat(), "db_2026-13-45", dated("db", -3), "db_latest"]
    for name in foreign:
        (destination / name).mkdir()
    site.write_config([backup("db", source, destination, retention=3, retention_weeks=4, retention_months=2)])
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    left = {p.name for p in destination.iterdir() if p.is_dir()}
    assert set(foreign) <= left
    ours = sorted((name for name in left - set(foreign)), reverse=True)
    assert ours[:3] == [dated("db", 0), dated("db", 1), dated("db", 2)]
    # the newest of each of the 4 newest ISO weeks and 2 newest months with backups survive; nothing else
    expected = {dated("db", 0), dated("db", 1), dated("db", 2)}
    weeks, months = {}, {}
    for age in range(0, 100):
        when = day(age)
        weeks.setdefault(when.isocalendar()[:2], dated("db", age))
        months.setdefault((when.year, when.month), dated("db", age))
    expected |= set(list(weeks.values())[:4]) | set(list(months.values())[:2])
    assert set(ours) == expected
    pruned = site.result("backup:db")["pruned"]
    assert len(pruned) == 100 - len(expected)
    assert "left alone, dated in the future or not a real date" in run.stdout


def test_no_pruning_after_a_failed_copy(site, folders):
    source, destination = folders
    for age in (1, 2, 3):
        make_dated_folder(destination / dated("usb1", age))
    (destination / dated("usb1")).write_text("a file where today's folder should go")
    site.write_config([backup("usb1", source, destination, retention=1)])
    run = site.doit()
    assert run.returncode == 1
    assert "FAILED   usb1:" in run.stdout and "Nothing copied, nothing pruned" in run.stdout
    assert {p.name for p in destination.iterdir()} == {dated("usb1", a) for a in (0, 1, 2, 3)}


@pytest.mark.parametrize("verify", ["checksum", "off"])
def test_no_pruning_when_the_rclone_copy_itself_fails(site, tmp_path, verify):
    """The folder was prepared, then rclone's copy failed (a subfolder of today's folder, left by an interrupted
    run, is read-only). With `verify: off` no later step notices the missing file: only the copy's own failure
    stands between this run and a prune of every old folder (retention 1)."""
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"top.txt": "copied fine", "locked/inner.txt": "cannot be written"})
    old = [make_dated_folder(destination / dated("usb1", age)) for age in (1, 2, 3)]
    before = {folder.name: listing(folder) for folder in old}
    today = destination / dated("usb1")
    (today / "locked").mkdir(parents=True)
    (today / "locked").chmod(0o555)
    site.write_config([backup("usb1", source, destination, retention=1, verify=verify)])
    try:
        run = site.doit(unprivileged=True)  # without root's power to write into a read-only folder
    finally:
        (today / "locked").chmod(0o755)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"copy to {today} failed" in run.stdout, run.stdout
    assert {folder.name: listing(folder) for folder in destination.iterdir()
            if folder != today and folder.is_dir()} == before
    assert not (today / "SHA256SUMS").exists()
    assert (today / "top.txt").read_text() == "copied fine"  # the folder was prepared and the copy ran
    assert site.result("backup:usb1")["status"] == "failed" and site.result("backup:usb1")["pruned"] == []


def test_destination_below_min_free_gb_is_skipped_with_a_critical_alert(site, folders):
    source, destination = folders
    site.write_config([backup("usb1", source, destination, min_free_gb=10 ** 9)])
    run = site.doit()
    assert run.returncode == 1
    assert "CRITICAL check_space:usb1: only" in run.stdout and "below min_free_gb 1000000000" in run.stdout
    assert list(destination.iterdir()) == []


def test_dry_run_reports_and_changes_nothing(site, folders):
    source, destination = folders
    for age in (1, 2, 3):
        make_dated_folder(destination / dated("usb1", age))
    site.write_config([backup("usb1", source, destination, retention=2)])
    before = sorted(p.name for p in destination.iterdir())
    run = site.doit("dry_run=1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in destination.iterdir()) == before
    assert "[backup dry run OK]" in run.stdout
    assert f"would prune {dated('usb1', 2)}, {dated('usb1', 3)}" in run.stdout
    assert site.result("backup:usb1")["dry_run"] is True
    one = site.doit("run", "backup:usb1", "dry_run=1")
    assert one.returncode == 0 and sorted(p.name for p in destination.iterdir()) == before


def test_invalid_config_fails_clearly_in_run_and_list(site, folders):
    source, destination = folders
    site.write_config([backup("usb1", source, destination, retension=3)])
    run = site.doit()
    assert run.returncode == 1
    assert "CRITICAL: invalid config, nothing was done" in run.stdout
    assert "backup_copy_list[0] (usb1).retension: unknown field" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert list(destination.iterdir()) == []
    listed = site.doit("list")
    assert listed.returncode == 0
    assert listed.stdout.startswith("backup:usb1") and "NOT USABLE" in listed.stdout
    assert "  backup_copy_list[0] (usb1).retension: unknown field" in listed.stderr.splitlines()
    assert "Traceback" not in listed.stdout + listed.stderr
    assert "backup_copy_list[0] (usb1).retension: unknown field" in site.log_file.read_text()


def test_list_shows_every_backup_with_source_destination_and_filter(site, folders):
    source, destination = folders
    site.write_config([backup("usb1", source, destination, days=3), backup("usb2", source, "offsite:pc")])
    listed = site.doit("list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert any(line.startswith("backup:usb1") and f"{source} -> {destination}/usb1_YYYY-MM-DD; files newer "
               "than 3 days" in line for line in lines)
    assert any(line.startswith("backup:usb2") and "offsite:pc/usb2_YYYY-MM-DD; all files" in line for line in lines)
    assert any(line.startswith("notify") for line in lines)


def test_a_second_run_is_refused_while_one_holds_the_lock(site, folders):
    source, destination = folders
    site.write_config([backup("usb1", source, destination)])
    with open(site.config_path.parent / "run.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        run = site.doit()
        assert time.monotonic() - started < 30
        listed = site.doit("list")
    assert run.returncode != 0
    assert "another backup run is still going" in run.stdout + run.stderr
    assert list(destination.iterdir()) == []
    assert listed.returncode == 0 and "backup:usb1" in listed.stdout
    assert site.doit().returncode == 0


def test_overlapping_runs_second_exits_at_once(site, tmp_path):
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"big.bin": (os.urandom(600_000), 0)})
    destination.mkdir()
    site.write_config([backup("usb1", source, destination, rclone={"flags": ["--bwlimit", "150k"]})])
    first = subprocess.Popen(site.doit_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        lists = site.config_path.parent / "lists" / "usb1.files"
        while not lists.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = site.doit()
        assert second.returncode != 0
        assert "another backup run is still going (pid" in second.stdout + second.stderr
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert sealed_listing(destination / dated("usb1"))["big.bin"] == (source / "big.bin").read_bytes()


def test_sftp_remote_full_cycle(site, folders, sftp):
    source, _ = folders
    (sftp.root / "offsite").mkdir()
    for age in (3, 4, 5):
        make_dated_folder(sftp.root / "offsite" / dated("web", age))
    site.write_config([backup("web", source, "offsite:offsite", days=2, retention=2)],
                      rclone={"config": str(sftp.rclone_config)})
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    remote = sftp.root / "offsite"
    marker = f"web.host-{socket.gethostname()}"  # says which host writes backup web there
    assert sorted(p.name for p in remote.iterdir()) == [marker, dated("web", 3), dated("web")]
    assert sealed_listing(remote / dated("web")) == {"today.txt": b"fresh", "sub/dir/yesterday.txt": b"from yesterday",
                                              "names/with space #1 ünï.txt": b"odd"}
    assert site.result("check_rclone:web")["metrics"]["remote_type"] == "sftp"
    again = site.doit()
    assert again.returncode == 0
    assert site.result("backup:web")["metrics"]["identical"] == 3


def test_sftp_wrong_password_fails_the_check_and_keeps_old_copies(site, folders, sftp):
    source, _ = folders
    make_dated_folder(sftp.root / dated("web", 3))
    sftp.write_rclone_config(password="wrong-password")
    site.write_config([backup("web", source, "offsite:", retention=1)], rclone={"config": str(sftp.rclone_config)})
    run = site.doit()
    assert run.returncode == 1
    assert "CRITICAL check_rclone:web: destination check failed: cannot list offsite:: login refused" in run.stdout
    assert [p.name for p in sftp.root.iterdir()] == [dated("web", 3)]
    assert "wrong-password" not in run.stdout + run.stderr + site.log_file.read_text()


def test_unknown_remote_is_named(site, folders, sftp):
    source, _ = folders
    site.write_config([backup("web", source, "nosuch:dir")], rclone={"config": str(sftp.rclone_config)})
    run = site.doit()
    assert run.returncode == 1
    assert "rclone remote 'nosuch' is not defined in" in run.stdout and "(defined: offsite)" in run.stdout


def test_secrets_of_an_on_the_fly_remote_never_reach_output_logs_or_results(site, folders, sftp):
    source, _ = folders
    secret = obscure(sftp.password)
    remote = f":sftp,host=127.0.0.1,port={sftp.port},user={sftp.user},pass={secret},shell_type=none:dir"
    site.write_config([backup("web", source, remote)])
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert (sftp.root / "dir" / dated("web") / "today.txt").read_text() == "fresh"
    written = [run.stdout, run.stderr, site.log_file.read_text()]
    written += [p.read_text() for p in (site.config_path.parent / "results").iterdir()]
    assert "pass=***" in site.log_file.read_text()
    for text in written:
        assert secret not in text and sftp.password not in text
