"""Shared fixtures: temporary installations run through the real doit CLI, real rclone, and rclone servers
on 127.0.0.1 (never any other address)."""

import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from scripts.rclone_servers import (  # noqa: F401
    RcloneServer,
    combined_config,
    free_port,
    obscure,
    serve,
    wait_for_port,
)

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RCLONE = str(BIN / "rclone")
DOIT = str(BIN / "doit")
DAY = 86400


def make_files(base: Path, files: dict) -> None:
    """Create `files` below `base`: {relative path: (content, age in days)} or {relative path: content}."""
    now = time.time()
    for relative, spec in files.items():
        content, age_days = spec if isinstance(spec, tuple) else (spec, 0)
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        stamp = now - age_days * DAY
        os.utime(path, (stamp, stamp))


def listing(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path, with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sealed_listing(folder: Path) -> dict[str, bytes]:
    """The files of a dated folder, after checking that its SHA256SUMS lists exactly them, with the right sums."""
    files = listing(folder)
    sums = files.pop("SHA256SUMS").decode()
    assert files.pop("SHA256SUMS.hmac").startswith(b"HMAC-SHA256 (SHA256SUMS) = ")
    expected = {f"{hashlib.sha256(files[name]).hexdigest()}  {name}" for name in files}
    assert sums.endswith("\n") and sorted(sums.splitlines()) == sorted(expected)
    return files


def make_dated_folder(path: Path, sealed: bool = True) -> Path:
    """A dated folder as an earlier run left it: one file, and its SHA256SUMS unless the run was interrupted."""
    path.mkdir(parents=True)
    (path / "data.txt").write_text("earlier copy")
    if sealed:
        (path / "SHA256SUMS").write_text(f"{hashlib.sha256(b'earlier copy').hexdigest()}  data.txt\n")
    return path


def make_job(state_dir: Path, source, destination, rclone_config=None, **entry):
    """A Job on one backup `b`, its settings read from a real config file (so every default is the schema's), its
    state kept in `state_dir`."""
    from tasks import config
    from tasks.job import Job, Run
    from tasks.results import Result

    document = {"min_free_gb": 0, "backup_copy_list": [
        {"name": "b", "source_dir": str(source), "rclone_path": str(destination), **entry}]}
    if rclone_config:
        document["rclone"] = {"config": str(rclone_config)}
    (state_dir / "config.yaml").write_text(yaml.safe_dump(document))
    (backup,) = config.load(state_dir / "config.yaml").backups
    run = Run(run_id="test", config_path=state_dir / "config.yaml", state_dir=state_dir, timeout=10,
              stall_timeout=30, dry_run=False,
              now=datetime.datetime.now().astimezone())
    run.lists_dir.mkdir(exist_ok=True)
    return Job(backup, run, Result(task="test:b", backup="b", run_id=run.run_id))


def outcome_on_a_fifo(fifo: Path, reading):
    """What `reading()` returns (or raises) when the file it reads is a FIFO with no writer: a reader that opens it
    blocking would wait forever, so after 10 s the test fails (and the reader is let go by a writer that closes)."""
    outcome = []

    def read():
        try:
            outcome.append(reading())
        except Exception as error:
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail(f"reading {fifo} blocked")
    return outcome[0]


#: Root, minus the capabilities that bypass file permissions: a file with mode 000 is then unreadable to it too.
WITHOUT_PERMISSION_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


class Site:
    """One installation in a temporary folder: its config, state, log, sources and destinations."""

    def __init__(self, root: Path):
        self.root = root
        self.config_path = root / "etc" / "config.yaml"
        self.config_path.parent.mkdir(parents=True)
        self.log_file = root / "log" / "backup.log"

    def write_config(self, backups: list[dict], **settings) -> Path:
        document = {"log_file": str(self.log_file), "min_free_gb": 0, "log_level": "DEBUG", **settings,
                    "backup_copy_list": backups}
        self.config_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        return self.config_path

    def doit_command(self, *args: str) -> list[str]:
        """The real doit CLI on the project's dodo.py with this site's config."""
        return [DOIT, "-f", str(PROJECT / "dodo.py"), *args, f"config={self.config_path}"]

    def doit(self, *args: str, timeout: float = 180, env: dict | None = None,
             unprivileged: bool = False) -> subprocess.CompletedProcess:
        """`unprivileged`: without root's power to ignore file permissions, so permission faults are real."""
        prefix = WITHOUT_PERMISSION_OVERRIDE if unprivileged and os.geteuid() == 0 else []
        return subprocess.run(prefix + self.doit_command(*args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})

    def result(self, task: str) -> dict:
        """The result `task` wrote last, in a real run or a dry run (a dry run's has a file of its own)."""
        folder, stem = self.config_path.parent / "results", task.replace(":", "-")
        written = [path for path in (folder / f"{stem}.json", folder / f"{stem}.dry-run.json") if path.exists()]
        return json.loads(max(written, key=lambda path: path.stat().st_mtime_ns).read_text())


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def sftp(tmp_path):
    server = serve("sftp", tmp_path)
    yield server
    server.stop()


@pytest.fixture
def webdav(tmp_path):
    server = serve("webdav", tmp_path)
    yield server
    server.stop()


@pytest.fixture
def s3(tmp_path):
    server = serve("s3", tmp_path)
    yield server
    server.stop()


class FuseMount:
    """A folder served through `rclone mount` (FUSE): freezing the rclone process makes every access to the
    mount block in the kernel, exactly like a Samba or NFS mount whose server stopped answering."""

    def __init__(self, backing: Path, mount_point: Path):
        self.backing, self.mount_point = backing, mount_point
        mount_point.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([RCLONE, "mount", str(backing), str(mount_point), "--config", "/dev/null",
                                         "--dir-cache-time", "0s", "--attr-timeout", "0s"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not os.path.ismount(mount_point):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rclone mount of {backing} did not appear (exit {self.process.poll()})")
            time.sleep(0.05)

    def hang(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def answer(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        self.answer()
        subprocess.run(["fusermount3", "-u", "-z", str(self.mount_point)], capture_output=True)
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def fuse_mount(tmp_path):
    """A mounted folder that a test can make hang (`.hang()`) and recover (`.answer()`)."""
    if not shutil.which("fusermount3") or not os.path.exists("/dev/fuse"):
        pytest.skip("needs FUSE (fusermount3 and /dev/fuse): scripts/test.sh installs fuse3 when run as root")
    mount = FuseMount(tmp_path / "backing", tmp_path / "mnt")
    yield mount
    mount.close()


@pytest.fixture
def mariadb(tmp_path):
    """A started MariaDB server of its own in tmp_path (scripts/mariadb_server.py), on a unix socket only."""
    from scripts.mariadb_server import MARIADBD
    from scripts.mariadb_server import serve as serve_mariadb

    if not os.access(MARIADBD, os.X_OK) or not shutil.which("mariadb-install-db"):
        pytest.skip("needs Debian's mariadb-server: scripts/test.sh installs it when run as root")
    server = serve_mariadb(tmp_path / "mariadb")
    yield server
    server.stop()
