"""The fault matrix: each way a 05:00 run fails, for real, with real rclone and remotes on 127.0.0.1.

Every case runs a faulty backup ("victim") beside a healthy one ("bystander") and checks what the administrator
relies on: the alert names the backup and the cause; the other backup completes; no complete folder from before is
deleted or altered; no partial folder counts as complete; the exit code is non-zero; and once the fault is removed a
rerun succeeds into the same dated folder.
"""

import datetime
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tasks import config
from tests.conftest import RcloneServer, listing, make_dated_folder, make_files


def day(ago: int = 0) -> datetime.date:
    """The local date `ago` days before now, read at each use (never at import: a suite may run across midnight)."""
    return datetime.date.today() - datetime.timedelta(days=ago)


def dated(name: str, days_ago: int = 0) -> str:
    return f"{name}_{day(days_ago).isoformat()}"


#: The victim's complete copies of earlier days, and its retention: a run that went through would keep today's
#: folder and the newest of these, and prune the others, so a fault that wrongly prunes cannot go unnoticed.
VICTIM_OLD_AGES = (1, 2, 3)
VICTIM_RETENTION = 2


class Matrix:
    """A victim and a bystander backup, each with complete copies of earlier days already at its destination.

    `victim_disk`: the local folder behind a victim destination given by the test (a remote's root on disk); the
    victim's old copies are made and watched there. Without a destination, the victim's is a local folder."""

    def __init__(self, site, root: Path, victim_source: Path | None = None, victim_destination: str | None = None,
                 victim_disk: Path | None = None):
        self.site = site
        self.bystander_source, self.bystander_destination = root / "usb-ok", root / "nas-ok"
        make_files(self.bystander_source, {"ok.txt": "fine", "sub/ok2.txt": "fine too"})
        make_dated_folder(self.bystander_destination / dated("bystander", 1))
        self.victim_source = victim_source or root / "usb"
        if victim_source is None:
            make_files(self.victim_source, {"v.txt": "victim data", "deep/er/v2.txt": "more"})
        self.victim_destination = victim_destination or str(root / "nas")
        self.victim_disk = Path(self.victim_destination) if victim_destination is None else victim_disk
        if self.victim_disk is not None:
            for age in VICTIM_OLD_AGES:
                make_dated_folder(self.victim_disk / dated("victim", age))
        self.before = self.complete_folders()

    def complete_folders(self) -> dict:
        """Contents of every sealed folder from before today, on the destinations' disks."""
        found = {}
        for destination in (self.bystander_destination, self.victim_disk):
            if destination is not None and destination.is_dir():
                for folder in destination.iterdir():
                    if (folder / "SHA256SUMS").exists() and not folder.name.endswith(day().isoformat()):
                        found[str(folder)] = listing(folder)
        return found

    def configure(self, victim: dict | None = None, **settings) -> None:
        backups = [
            {"name": "victim", "source_dir": str(self.victim_source), "rclone_path": self.victim_destination,
             "retention": VICTIM_RETENTION, **(victim or {})},
            {"name": "bystander", "source_dir": str(self.bystander_source),
             "rclone_path": str(self.bystander_destination), "retention": 5},
        ]
        self.site.write_config(backups, **{"check_timeout_seconds": 10, **settings})

    def assert_fault(self, run, *words: str, level: str | None = None) -> None:
        output = run.stdout + run.stderr
        assert run.returncode != 0, output
        assert "Traceback" not in output
        problems = [line for line in run.stdout.splitlines() if ":victim:" in line or "victim:" in line]
        for word in words:
            assert any(word in line for line in problems), f"{word!r} not in the victim's lines:\n{run.stdout}"
        if level:
            assert any(line.strip().startswith(level) for line in problems), run.stdout
        assert "OK       bystander:" in run.stdout, run.stdout
        assert (self.bystander_destination / dated("bystander") / "SHA256SUMS").exists()
        self.assert_nothing_good_lost()
        if self.victim_disk is not None:
            victim_today = self.victim_disk / dated("victim")
            assert not (victim_today / "SHA256SUMS").exists(), "a partial folder was sealed as complete"

    def assert_nothing_good_lost(self) -> None:
        after = self.complete_folders()
        for folder, files in self.before.items():
            assert after.get(folder) == files, f"{folder} was deleted or altered"

    def assert_recovers(self, **doit) -> None:
        run = self.site.doit(**doit)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "OK       victim:" in run.stdout
        if self.victim_disk is not None:  # the run that goes through prunes what the fault had to leave alone
            kept = {p.name for p in self.victim_disk.iterdir() if p.name.startswith("victim_")}
            assert kept == {dated("victim")} | {dated("victim", age) for age in VICTIM_OLD_AGES[:VICTIM_RETENTION - 1]}


@pytest.fixture
def matrix(site, tmp_path):
    return Matrix(site, tmp_path)


# 1
def test_source_folder_missing(matrix, tmp_path):
    matrix.victim_source = tmp_path / "unplugged"
    matrix.configure()
    matrix.assert_fault(matrix.site.doit(), "source folder", "does not exist: disk not mounted", level="CRITICAL")
    make_files(tmp_path / "unplugged", {"back.txt": "plugged in again"})
    matrix.assert_recovers()


# 2
def test_mount_point_present_but_empty(matrix, tmp_path):
    (tmp_path / "mnt").mkdir()
    matrix.victim_source = tmp_path / "mnt"
    matrix.configure()
    matrix.assert_fault(matrix.site.doit(), "is empty: the disk is probably not mounted", level="CRITICAL")
    make_files(tmp_path / "mnt", {"back.txt": "mounted again"})
    matrix.assert_recovers()


# 3
def test_source_that_hangs_does_not_hang_the_run(site, tmp_path, fuse_mount):
    make_files(fuse_mount.backing, {"samba.txt": "from the share", "sub/x.txt": "x"})
    matrix = Matrix(site, tmp_path, victim_source=fuse_mount.mount_point)
    matrix.configure(check_timeout_seconds=2, stall_timeout_seconds=4)
    fuse_mount.hang()
    started = time.monotonic()
    run = site.doit(timeout=120)
    assert time.monotonic() - started < 60
    matrix.assert_fault(run, "did not answer within 2 s: hung network mount?", level="CRITICAL")
    fuse_mount.answer()
    matrix.assert_recovers()


def test_walk_and_copy_of_a_source_that_hangs_midway_are_stopped(tmp_path, fuse_mount):
    """The probe passed, then the mount hung: the walk and the copy are stopped when they stall."""
    from tasks import rclone as rc
    from tasks import watchdog
    from tasks.config import RcloneSettings
    from tests.conftest import RCLONE
    make_files(fuse_mount.backing, {"a.txt": "a", "b/c.txt": "c"})
    fuse_mount.hang()
    payload = {"source": str(fuse_mount.mount_point), "newer_than": None, "exclude": [],
               "list_file": str(tmp_path / "files")}
    started = time.monotonic()
    with pytest.raises(watchdog.Stalled):
        watchdog.run_child("select", payload, stall_seconds=2)
    (tmp_path / "files").write_text("a.txt\n")
    tool = rc.Rclone(RcloneSettings(binary=RCLONE, config=None, flags=()), timeout=5, stall_timeout=3)
    import logging
    outcome = tool.copy(fuse_mount.mount_point, str(tmp_path / "dst"), tmp_path / "files", logging.getLogger("t"))
    assert outcome.returncode != 0 and "stopped after no progress for 3 s" in " ".join(outcome.messages)
    assert time.monotonic() - started < 40


# 4
def test_source_files_vanish_or_grow_during_the_copy(matrix, tmp_path):
    rng = random.Random(4)
    make_files(matrix.victim_source, {"a-big.bin": rng.randbytes(400_000), "b-vanishes.bin": rng.randbytes(400_000),
                                      "c-grows.log": rng.randbytes(400_000)})
    matrix.configure(victim={"rclone": {"flags": ["--bwlimit", "400k", "--transfers", "1", "--retries", "1"]}})
    list_file = matrix.site.config_path.parent / "lists" / "victim.files"

    def meddle():
        deadline = time.monotonic() + 30
        while not list_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        (matrix.victim_source / "b-vanishes.bin").unlink()
        for _ in range(20):
            with open(matrix.victim_source / "c-grows.log", "ab") as log:
                log.write(b"another line\n" * 100)
            time.sleep(0.1)

    meddler = threading.Thread(target=meddle)
    meddler.start()
    run = matrix.site.doit()
    meddler.join()
    matrix.assert_fault(run, "copies are kept")
    matrix.assert_recovers()


# 5
def test_unreadable_file_is_named_and_the_rest_is_copied(matrix):
    make_files(matrix.victim_source, {"secret.db": "no access"})
    (matrix.victim_source / "secret.db").chmod(0)
    matrix.configure()
    run = matrix.site.doit(unprivileged=True)
    matrix.assert_fault(run, "secret.db", "permission denied")
    copied = Path(matrix.victim_destination) / dated("victim")
    assert (copied / "v.txt").read_text() == "victim data"  # the rest is copied, but not sealed as complete
    (matrix.victim_source / "secret.db").chmod(0o644)
    matrix.assert_recovers(unprivileged=True)


# 6
def test_destination_server_down_before_the_run(site, tmp_path):
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config()
    server.stop()
    matrix = Matrix(site, tmp_path, victim_destination="offsite:", victim_disk=server.root)
    matrix.configure(check_timeout_seconds=5, rclone={"config": str(server.rclone_config)})
    matrix.assert_fault(site.doit(), "check_rclone:victim", level="ERROR")
    server.start()
    matrix.assert_recovers()
    server.stop()


def test_server_killed_mid_upload_leaves_no_counted_partial_files(site, tmp_path):
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config()
    source = tmp_path / "usb"
    make_files(source, {"big.bin": random.Random(6).randbytes(2_000_000)})
    matrix = Matrix(site, tmp_path, victim_source=source, victim_destination="offsite:", victim_disk=server.root)
    matrix.configure(rclone={"config": str(server.rclone_config)},
                     victim={"rclone": {"flags": ["--bwlimit", "400k", "--retries", "1", "--low-level-retries", "1"]}})
    running = subprocess.Popen(site.doit_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(server.root.glob(f"{dated('victim')}/*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    server.process.kill()  # the server dies in the middle of the upload
    out, err = running.communicate(timeout=120)
    matrix.assert_fault(subprocess.CompletedProcess([], running.returncode, out, err), "failed")
    assert not (server.root / dated("victim") / "SHA256SUMS").exists()
    server.start()
    matrix.assert_recovers()
    leftovers = [p.name for p in (server.root / dated("victim")).iterdir()]
    assert sorted(leftovers) == ["SHA256SUMS", "SHA256SUMS.hmac", "big.bin"]  # the stale .partial was cleaned up
    server.stop()


# 7
def test_destination_below_min_free_gb(matrix):
    matrix.configure(victim={"min_free_gb": 10 ** 9})
    matrix.assert_fault(matrix.site.doit(), "below min_free_gb", level="CRITICAL")
    matrix.configure()
    matrix.assert_recovers()


def test_destination_fills_up_during_the_upload(site, tmp_path):
    small = tmp_path / "small-disk"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        matrix = Matrix(site, tmp_path, victim_destination=str(small), victim_disk=small)
        make_files(matrix.victim_source, {"large.bin": random.Random(7).randbytes(600_000)})
        matrix.configure()
        matrix.assert_fault(site.doit(), "the destination is full", level="CRITICAL")
        (matrix.victim_source / "large.bin").unlink()
        matrix.assert_recovers()
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


# 8
def test_wrong_sftp_password(site, tmp_path):
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config(password="not-the-password")
    matrix = Matrix(site, tmp_path, victim_destination="offsite:", victim_disk=server.root)
    matrix.configure(rclone={"config": str(server.rclone_config)})
    matrix.assert_fault(site.doit(), "login refused", level="CRITICAL")
    server.write_rclone_config()
    matrix.assert_recovers()
    server.stop()


def test_expired_oauth_token_is_reported_with_the_reconnect_command(site, tmp_path, httpserver):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"error": "invalid_grant", "error_description": "AADSTS70000: The refresh token has expired."}, status=400)
    rclone_config = tmp_path / "rclone" / "rclone.conf"
    rclone_config.parent.mkdir()
    rclone_config.write_text(
        "[onedrive]\ntype = onedrive\ndrive_type = personal\ndrive_id = 0123456789abcdef\n"
        f"token_url = {httpserver.url_for('/token')}\nauth_url = {httpserver.url_for('/auth')}\n"
        'token = {"access_token":"old","token_type":"Bearer","refresh_token":"refresh-me",'
        '"expiry":"2020-01-01T00:00:00Z"}\n')
    matrix = Matrix(site, tmp_path, victim_destination="onedrive:offsite")
    matrix.configure(rclone={"config": str(rclone_config)})
    run = site.doit()
    matrix.assert_fault(run, "`rclone config reconnect onedrive:`", level="CRITICAL")
    assert httpserver.log, "rclone did not ask the token endpoint on 127.0.0.1"
    assert "refresh-me" not in run.stdout + run.stderr + site.log_file.read_text()


# 9
@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_read_only_rclone_config_is_warned_about(site, tmp_path, read_only):
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config()
    matrix = Matrix(site, tmp_path, victim_destination="offsite:")
    matrix.configure(rclone={"config": str(server.rclone_config)})
    locked = server.rclone_config if read_only == "file" else server.rclone_config.parent
    locked.chmod(0o444 if read_only == "file" else 0o555)
    try:
        run = site.doit(unprivileged=True)
    finally:
        locked.chmod(0o755)
        server.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "refreshed login tokens cannot be saved" in run.stdout and "WARNING  check_rclone:victim" in run.stdout


# 10
def test_rclone_missing(matrix):
    matrix.configure(victim={"rclone": {"binary": "/opt/nowhere/rclone"}})
    matrix.assert_fault(matrix.site.doit(), "rclone is missing or broken", "/opt/nowhere/rclone", level="CRITICAL")
    matrix.configure()
    matrix.assert_recovers()


def test_old_rclone_is_warned_about(matrix):
    old = Path("/usr/bin/rclone")
    if not old.exists():
        pytest.skip("needs Debian's rclone 1.60 at /usr/bin/rclone (scripts/test.sh installs it as root)")
    version = subprocess.run([str(old), "version"], capture_output=True, text=True).stdout.split()[1]
    matrix.configure(victim={"rclone": {"binary": str(old)}})
    run = matrix.site.doit()
    assert f"rclone {version} is older than 1.65.1" in run.stdout
    assert "WARNING  check_rclone:victim" in run.stdout
    assert run.returncode == 0 and "OK       victim:" in run.stdout, run.stdout  # still works, with the warning


# 11
BROKEN_CONFIGS = {
    "wrong type": "backup_copy_list: {name: x}\n",
    "missing key": "backup_copy_list:\n  - name: x\n    source_dir: /x\n",
    "unknown key": "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: r:, retension: 2}\n",
    "duplicate names": "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'r:'}\n"
                       "  - {name: X, source_dir: /y, rclone_path: 'r:'}\n",
    "bad remote": "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'bad remote!:x'}\n",
    "negative size": "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'r:', max_size_mb: -1}\n",
    "non-UTF-8": b"backup_copy_list:\n  - {name: \xff\xfe, source_dir: /x, rclone_path: 'r:'}\n",
    "empty file": "",
    "YAML syntax": "backup_copy_list: [\n  {name: x\n",
    "tab indentation": "backup_copy_list:\n\t- name: x\n",
    "list at top": "- a\n- b\n",
    "name with slash": "backup_copy_list:\n  - {name: a/b, source_dir: /x, rclone_path: 'r:'}\n",
    "days as text": "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'r:', days: seven}\n",
    "boolean size": "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'r:', max_size_mb: yes}\n",
    "filter flag": "rclone: {flags: [--max-age, 1d]}\n"
                   "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'r:'}\n",
    "secrets file too open": None,
}


@pytest.mark.parametrize("case", BROKEN_CONFIGS)
def test_broken_config_gives_a_clear_message_and_exit_code(site, tmp_path, case):
    text = BROKEN_CONFIGS[case]
    if text is None:
        secrets = tmp_path / "secrets.env"
        secrets.write_text("PUSHOVER_APP_TOKEN=x\n")
        secrets.chmod(0o644)
        text = (f"secrets_file: {secrets}\nnotifications: {{pushover: {{}}}}\n"
                "backup_copy_list:\n  - {name: x, source_dir: /x, rclone_path: 'r:'}\n")
    site.config_path.write_bytes(text if isinstance(text, bytes) else text.encode())
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "CRITICAL: invalid config, nothing was done" in run.stdout
    assert str(site.config_path) in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    listed = site.doit("list")
    assert listed.returncode == 0 and "notify" in listed.stdout and str(site.config_path) in listed.stderr


def test_random_documents_never_crash_the_loader(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    leaves = st.none() | st.booleans() | st.integers(-5, 10 ** 12) | st.floats(allow_nan=True) | st.text(max_size=8)
    keys = st.sampled_from(["backup_copy_list", "name", "source_dir", "rclone_path", "days", "retention", "email",
                            "rclone", "flags", "notifications", "pushover", "log_level", "min_free_gb", "x"])
    documents = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner,
                                                                                               max_size=4),
                             max_leaves=12)

    @settings(max_examples=300, deadline=None)
    @given(documents)
    def load(document):
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(document))
        try:
            config.load(path)
        except config.ConfigError as error:
            assert str(path) in str(error)

    load()


# 12
def test_run_killed_mid_copy_frees_the_lock_and_the_next_run_completes_the_folder(matrix):
    make_files(matrix.victim_source, {"big.bin": random.Random(12).randbytes(1_500_000)})
    matrix.configure(victim={"rclone": {"flags": ["--bwlimit", "300k"]}})
    running = subprocess.Popen(matrix.site.doit_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    today = Path(matrix.victim_destination) / dated("victim")
    deadline = time.monotonic() + 30
    while not list(today.glob("*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    running.send_signal(signal.SIGKILL)
    running.wait()
    time.sleep(1)
    assert not _rclone_copies_running(str(matrix.victim_source)), "rclone outlived the killed run"
    assert not (today / "SHA256SUMS").exists()
    matrix.assert_nothing_good_lost()
    matrix.assert_recovers()
    assert (today / "SHA256SUMS").exists() and not list(today.glob("*.partial"))


def _rclone_copies_running(source: str) -> bool:
    for pid in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if command and command[0].endswith(b"rclone") and source.encode() in command:
            return True
    return False


# 13
def test_clock_surprises_and_neighbours_are_never_deleted(matrix):
    destination = Path(matrix.victim_destination)
    strangers = [dated("victim", -5), "victim_2026-13-45", "victim_2026-02-30", dated("victim2", 9),
                 dated("other", 30), "victim_latest"]
    for name in strangers:
        make_dated_folder(destination / name)
    make_dated_folder(destination / dated("victim", 4))  # beside the matrix's VICTIM_OLD_AGES
    matrix.configure()
    run = matrix.site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    left = {p.name for p in destination.iterdir()}
    assert set(strangers) <= left
    assert "left alone, dated in the future or not a real date" in run.stdout
    assert dated("victim", 4) not in left  # retention itself still works


# 14
@pytest.mark.parametrize("remote_kind", ["local", "sftp"])
def test_odd_names_are_copied_or_reported_never_dropped(site, tmp_path, remote_kind):
    source = tmp_path / "usb"
    names = ["with space.txt", " leading", "trailing ", "#hash", "semi;colon", "ünïcødé €.txt",
             "/".join(["d" * 100] * 5) + "/" + "f" * 200]
    make_files(source, {name: name for name in names})
    if remote_kind == "local":
        raw_name = b"latin1-\xe9t\xe9.txt"
        with open(os.fsencode(source) + b"/" + raw_name, "wb") as handle:
            handle.write(b"bytes")
    server = None
    if remote_kind == "sftp":
        server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
        server.start()
        server.write_rclone_config()
    matrix = Matrix(site, tmp_path, victim_source=source,
                    victim_destination="offsite:" if server else None, victim_disk=server.root if server else None)
    make_files(source, {"line\nbreak.txt": "cannot be listed"})
    matrix.configure(**({"rclone": {"config": str(server.rclone_config)}} if server else {}))
    run = site.doit()
    matrix.assert_fault(run, "line\\nbreak.txt: name contains a line break")
    copied_root = (server.root if server else Path(matrix.victim_destination)) / dated("victim")
    for name in names:
        assert (copied_root / name).read_text() == name
    if remote_kind == "local":
        assert os.path.exists(os.fsencode(copied_root) + b"/" + raw_name)
    (source / "line\nbreak.txt").unlink()
    matrix.assert_recovers()
    if server:
        server.stop()


# 15
def test_log_folder_not_writable(matrix, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be")
    matrix.configure(log_file=str(blocker / "backup.log"))
    run = matrix.site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "cannot open the log file" in run.stderr
    assert "[backup OK]" in run.stdout and "OK       victim:" in run.stdout  # still reported


def test_log_disk_full(matrix, tmp_path):
    small = tmp_path / "small-log-disk"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        (small / "filler").write_bytes(b"\0" * (64 * 1024 - 4096))
        matrix.configure(log_file=str(small / "backup.log"), log_level="DEBUG")
        run = matrix.site.doit()
        assert run.returncode == 1, run.stdout + run.stderr
        assert "cannot write the log file" in run.stdout + run.stderr
        assert "OK       victim:" in run.stdout and "OK       bystander:" in run.stdout
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


# Security
PLANTED = {"SENDGRID_API_KEY": "SG.planted-matrix-sendgrid", "PUSHOVER_APP_TOKEN": "planted-matrix-pushover-app",
           "PUSHOVER_USER_KEY": "planted-matrix-pushover-user"}


def test_planted_secrets_never_reach_any_output(site, tmp_path, httpserver):
    httpserver.expect_request("/v3/mail/send").respond_with_data("", status=202)
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1})
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "rclone")
    server.start()
    server.write_rclone_config()
    from tests.conftest import obscure
    on_the_fly = (f":sftp,host=127.0.0.1,port={server.port},user={server.user},pass={obscure(server.password)},"
                  "shell_type=unix,md5sum_command=md5sum,sha1sum_command=sha1sum:fly")
    matrix = Matrix(site, tmp_path, victim_destination="offsite:")
    base = httpserver.url_for("").rstrip("/")
    backups = [{"name": "named", "source_dir": str(matrix.bystander_source), "rclone_path": "offsite:named"},
               {"name": "fly", "source_dir": str(matrix.bystander_source), "rclone_path": on_the_fly},
               {"name": "gone", "source_dir": str(tmp_path / "gone"), "rclone_path": on_the_fly}]
    site.write_config(backups, email=["admin@example.com"], rclone={"config": str(server.rclone_config)},
                      notifications={"sendgrid": {"from": "b@example.com", "base_url": base},
                                     "pushover": {"base_url": base}})
    run = site.doit(env=PLANTED)
    server.stop()
    assert run.returncode == 1  # "gone" fails, and is announced by mail and Pushover
    assert len(httpserver.log) == 2
    secrets = list(PLANTED.values()) + [server.password, obscure(server.password),
                                        server.rclone_config.read_text().split("pass = ")[1].strip()]
    outputs = {"stdout": run.stdout, "stderr": run.stderr}
    for path in [*site.config_path.parent.rglob("*"), *site.log_file.parent.rglob("*")]:
        if path.is_file() and path.name not in ("config.yaml",) and not path.name.startswith(".doit"):
            outputs[str(path)] = path.read_bytes().decode("utf-8", "replace")
    for request, _ in httpserver.log:  # what the services receive, less the credentials their API requires
        fields = {k: v for k, v in request.form.items() if k not in ("token", "user")}
        outputs[request.path] = str(fields) if fields else request.get_data(as_text=True)
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"


def test_files_the_tool_writes_are_private(site, tmp_path):
    matrix = Matrix(site, tmp_path)
    matrix.configure()
    assert site.doit().returncode == 0
    state = site.config_path.parent
    for folder in (state / "results", state / "lists"):  # they name files and paths of the sources
        assert folder.stat().st_mode & 0o077 == 0, folder
    for path in (state / "results").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    assert (state / "run.lock").stat().st_mode & 0o077 == 0
    assert site.log_file.stat().st_mode & 0o077 == 0


def test_symlinks_out_of_the_source_are_not_followed(matrix, tmp_path):
    make_files(tmp_path / "elsewhere", {"private.key": "not part of this backup"})
    (matrix.victim_source / "link-out").symlink_to(tmp_path / "elsewhere")
    (matrix.victim_source / "key-link").symlink_to(tmp_path / "elsewhere" / "private.key")
    matrix.configure()
    run = matrix.site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    copied = Path(matrix.victim_destination) / dated("victim")
    assert not (copied / "link-out").exists() and not (copied / "key-link").exists()
    assert "2 symbolic links in" in matrix.site.log_file.read_text()
