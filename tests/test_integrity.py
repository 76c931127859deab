"""Integrity end to end: verify after copy, SHA256SUMS, verify later, restore and drills, on local, sftp and
webdav remotes through the real doit CLI."""

import datetime
import hashlib
import os
import random
import subprocess
import time

import pytest

from tasks import integrity, selection
from tests.conftest import RcloneServer, make_dated_folder, make_files, sealed_listing


def day(ago: int = 0) -> datetime.date:
    """The local date `ago` days before now, read at each use (never at import: a suite may run across midnight)."""
    return datetime.date.today() - datetime.timedelta(days=ago)


def dated(name: str, days_ago: int = 0) -> str:
    return f"{name}_{day(days_ago).isoformat()}"


FILES = {"a.txt": "alpha", "dir/b c #.txt": "bravo", "dir/deep/ü.bin": b"\x00\x01charlie"}


@pytest.fixture
def source(tmp_path):
    make_files(tmp_path / "usb", FILES)
    return tmp_path / "usb"


def configure(site, source, rclone_path, rclone_config=None, **extra):
    settings = {"rclone": {"config": str(rclone_config)}} if rclone_config else {}
    site.write_config([{"name": "web", "source_dir": str(source), "rclone_path": rclone_path, **extra}], **settings)


@pytest.fixture(params=["local", "sftp"])
def remote(request, tmp_path):
    """(rclone_path, rclone config or None, the folder on disk that holds the remote's files)."""
    if request.param == "local":
        (tmp_path / "nas").mkdir()
        yield str(tmp_path / "nas"), None, tmp_path / "nas"
        return
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config()
    yield "offsite:", server.rclone_config, server.root
    server.stop()


def test_every_copy_is_verified_and_sealed(site, source, remote):
    rclone_path, rclone_config, disk = remote
    configure(site, source, rclone_path, rclone_config)
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert sealed_listing(disk / dated("web")) == {k: v.encode() if isinstance(v, str) else v for k, v in FILES.items()}
    metrics = site.result("backup:web")["metrics"]
    # checked against this run's own sums: sha256 where the remote hashes it (local), else md5 (sftp)
    assert metrics["verified"] == ("sha256" if rclone_config is None else "md5") and metrics["sealed_files"] == 3
    folder = disk / dated("web")
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 3


def test_a_second_run_the_same_day_adds_to_the_sums(site, source, tmp_path):
    (tmp_path / "nas").mkdir()
    configure(site, source, str(tmp_path / "nas"))
    assert site.doit().returncode == 0
    (source / "a.txt").unlink()
    make_files(source, {"new.txt": "delta"})
    assert site.doit().returncode == 0
    files = sealed_listing(tmp_path / "nas" / dated("web"))
    assert set(files) == {"a.txt", "dir/b c #.txt", "dir/deep/ü.bin", "new.txt"}


def test_webdav_copy_is_size_checked_and_says_so(site, source, webdav):
    configure(site, source, "offsite:", webdav.rclone_config)
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[backup WARNING]" in run.stdout
    assert "content not hash-checked: the remote offers no common hash" in run.stdout
    assert site.result("backup:web")["metrics"]["verified"] == "size"
    sealed_listing(webdav.root / dated("web"))


def test_webdav_download_verification_reads_the_copy_back(site, source, webdav):
    configure(site, source, "offsite:", webdav.rclone_config, verify="download")
    run = site.doit()
    assert run.returncode == 0 and "not hash-checked" not in run.stdout
    assert site.result("backup:web")["metrics"]["verified"] == "download"


def test_verify_later_finds_a_flipped_byte_and_a_deleted_file_by_name(site, source, remote):
    rclone_path, rclone_config, disk = remote
    configure(site, source, rclone_path, rclone_config)
    assert site.doit().returncode == 0
    clean = site.doit("verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"all 3 files of {dated('web')} match its SHA256SUMS" in clean.stdout
    folder = disk / dated("web")
    data = bytearray((folder / "dir/b c #.txt").read_bytes())
    data[2] ^= 0x01
    (folder / "dir/b c #.txt").write_bytes(bytes(data))
    (folder / "a.txt").unlink()
    broken = site.doit("run", "verify:web")
    assert broken.returncode == 1
    assert f"{dated('web')} does not match its SHA256SUMS: 1 differ (dir/b c #.txt); 1 missing (a.txt)" in broken.stdout


def test_verify_downloads_when_the_remote_cannot_hash_sha256(site, source, webdav):
    configure(site, source, "offsite:", webdav.rclone_config)
    assert site.doit().returncode == 0
    (webdav.root / dated("web") / "a.txt").write_text("ALPHA")  # same size: only a real hash notices
    run = site.doit("run", "verify:web")
    assert run.returncode == 1 and "1 differ (a.txt)" in run.stdout


def test_verify_a_given_day_and_refuse_an_incomplete_one(site, source, tmp_path):
    nas = tmp_path / "nas"
    make_dated_folder(nas / dated("web", 1))
    make_dated_folder(nas / dated("web", 2), sealed=False)
    configure(site, source, str(nas))
    good = site.doit("run", "verify:web", f"date={day(1).isoformat()}")
    assert good.returncode == 0 and f"all 1 files of {dated('web', 1)}" in good.stdout
    bad = site.doit("run", "verify:web", f"date={day(2).isoformat()}")
    assert bad.returncode == 1 and "has no SHA256SUMS: its copy never completed" in bad.stdout


def test_restore_checks_every_file_and_sha256sum_passes(site, source, remote, tmp_path):
    rclone_path, rclone_config, _ = remote
    configure(site, source, rclone_path, rclone_config)
    assert site.doit().returncode == 0
    target = tmp_path / "restored"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"restored 3 files of {dated('web')} into {target}; all match SHA256SUMS" in run.stdout
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert (target / "dir/deep/ü.bin").read_bytes() == b"\x00\x01charlie"


def test_restore_refuses_a_non_empty_target_unless_told(site, source, tmp_path):
    (tmp_path / "nas").mkdir()
    configure(site, source, str(tmp_path / "nas"))
    assert site.doit().returncode == 0
    target = tmp_path / "busy"
    make_files(target, {"a.txt": "local work"})
    refused = site.doit("run", "restore:web", f"target={target}")
    assert refused.returncode == 1 and "is not empty" in refused.stdout
    assert (target / "a.txt").read_text() == "local work"
    allowed = site.doit("run", "restore:web", f"target={target}", "overwrite=1")
    assert allowed.returncode == 0 and (target / "a.txt").read_text() == "alpha"
    missing = site.doit("run", "restore:web")
    assert missing.returncode == 1 and "say where to restore" in missing.stdout


def test_restore_dry_run_writes_nothing(site, source, tmp_path):
    (tmp_path / "nas").mkdir()
    configure(site, source, str(tmp_path / "nas"))
    assert site.doit().returncode == 0
    run = site.doit("run", "restore:web", f"target={tmp_path / 'r'}", "dry_run=1")
    assert run.returncode == 0 and "would restore 3 files" in run.stdout and not (tmp_path / "r").exists()


def test_drill_finds_a_corrupted_file_by_name(site, tmp_path):
    source, nas = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"only.txt": "the one file"})
    nas.mkdir()
    configure(site, source, str(nas), drill_files=3)
    assert site.doit().returncode == 0
    clean = site.doit("run", "drill:web")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "drill:web" in clean.stdout
    assert "restore drill: 1 files" in site.log_file.read_text()
    (nas / dated("web") / "only.txt").write_text("the one FILE")
    broken = site.doit("run", "drill:web")
    assert broken.returncode == 1
    assert f"restore drill of {dated('web')}: 1 of 1 sampled files are corrupted (only.txt)" in broken.stdout


def test_scheduled_drill_runs_when_due_and_is_remembered(site, source, tmp_path):
    (tmp_path / "nas").mkdir()
    configure(site, source, str(tmp_path / "nas"), drill_every_days=7)
    first = site.doit()
    assert first.returncode == 0
    assert site.result("backup:web")["metrics"]["drill"]["files"] == 3
    assert f"restore drill: 3 files (19 B) of {dated('web')} checked" in first.stdout  # in the summary
    second = site.doit()
    assert second.returncode == 0 and "restore drill" not in second.stdout
    assert "drill" not in site.result("backup:web")["metrics"]  # done today, next one in 7 days


def test_interrupted_copy_leaves_an_incomplete_folder_that_does_not_count(site, tmp_path):
    source = tmp_path / "usb"
    make_files(source, {"big.bin": random.Random(1).randbytes(1_500_000)})
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config()
    for age in (1, 2):
        make_dated_folder(server.root / dated("web", age))
    configure(site, source, "offsite:", server.rclone_config, retention=2,
              rclone={"flags": ["--bwlimit", "300k", "--retries", "1", "--low-level-retries", "1"]})
    running = subprocess.Popen(site.doit_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not list((server.root).glob(f"{dated('web')}/*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        server.stop()  # the network goes away in the middle of the upload
    finally:
        out, err = running.communicate(timeout=120)
    assert running.returncode == 1, out + err
    assert not (server.root / dated("web") / "SHA256SUMS").exists()
    assert {p.name for p in server.root.iterdir() if p.is_dir()} == {dated("web"), dated("web", 1), dated("web", 2)}
    server.start()  # back, on the same port
    rerun = site.doit()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert hashlib.sha256(sealed_listing(server.root / dated("web"))["big.bin"]).digest() == \
        hashlib.sha256((source / "big.bin").read_bytes()).digest()
    # the interrupted folder of today is now complete; the older complete folder beyond retention is gone
    assert {p.name for p in server.root.iterdir() if p.is_dir()} == {dated("web"), dated("web", 1)}
    server.stop()


def test_sums_are_parsed_as_sha256sum_writes_them(tmp_path):
    make_files(tmp_path, {"x y.txt": "x", "*star": "s"})
    written = subprocess.run(["sha256sum", "x y.txt", "*star"], cwd=tmp_path, capture_output=True, text=True).stdout
    sums = integrity.parse(written)
    assert sums == {"x y.txt": hashlib.sha256(b"x").hexdigest(), "*star": hashlib.sha256(b"s").hexdigest()}
    assert integrity.parse(integrity.render(sums)) == sums
    assert integrity.compare(sums, tmp_path) == ([], [])


def _grow(path):
    with open(path, "ab") as handle:
        handle.write(b"appended by the primary backup")


def _rewrite_same_size_older_mtime(path):
    stamp = os.stat(path).st_mtime_ns
    with open(path, "r+b") as handle:  # same size, other bytes, and a back-dated mtime (as rsync -t leaves it)
        handle.write(b"X" * 4096)
    os.utime(path, ns=(stamp - 3600 * 10 ** 9, stamp - 3600 * 10 ** 9))


@pytest.mark.parametrize("change", [_grow, _rewrite_same_size_older_mtime], ids=["grows", "rewritten"])
def test_a_file_changed_while_it_is_hashed_is_reported_and_not_sealed(tmp_path, change):
    source = tmp_path / "usb"
    make_files(source, {"before.txt": "steady", "busy.bin": random.Random(3).randbytes(3 * 1024 * 1024 + 5),
                        "z-after.txt": "steady too"})
    file_list, sums_file = tmp_path / "files", tmp_path / "SHA256SUMS"
    selection.select(source, None, (), file_list)  # the list as a run writes it, in the walk's order
    order = [line for line in file_list.read_bytes().split(b"\n") if line]
    busy_first_mib = order.index(b"busy.bin") + 1  # each other file is under 1 MiB: one progress call each
    calls = []

    def progress():  # called per MiB read: busy.bin changes under the reader after its first MiB
        calls.append(1)
        if len(calls) == busy_first_mib:
            change(source / "busy.bin")

    hashed, problems = integrity.hash_listed(source, file_list, sums_file, progress)
    assert len(calls) >= 4, "progress was not called per MiB"
    assert problems == ["busy.bin: changed while being hashed"]
    assert hashed == 2
    assert integrity.parse(sums_file.read_text()) == {"before.txt": hashlib.sha256(b"steady").hexdigest(),
                                                      "z-after.txt": hashlib.sha256(b"steady too").hexdigest()}


def test_sample_is_bounded_by_count_and_bytes():
    files = [(f"f{i}", 10) for i in range(100)]
    assert len(integrity.sample(files, 5, 10_000, random.Random(0))) == 5
    assert len(integrity.sample(files, 50, 35, random.Random(0))) == 3
    assert integrity.sample([("huge", 10 ** 9)], 5, 100, random.Random(0)) == []


def test_a_drill_on_any_remote_names_the_corrupted_file(site, source, remote):
    """rclone itself may abort a download whose hash differs (remotes that keep hashes): the alert must still
    name the file, from rclone's JSON log."""
    rclone_path, rclone_config, disk = remote
    configure(site, source, rclone_path, rclone_config, drill_files=10, drill_max_mb=10)
    assert site.doit().returncode == 0
    corrupted = disk / dated("web") / "a.txt"
    corrupted.write_bytes(corrupted.read_bytes().swapcase())
    broken = site.doit("run", "drill:web")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "a.txt" in broken.stdout
