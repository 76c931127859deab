"""`engine: restic` end to end through the real doit CLI, Debian's restic (>= 0.14) and real rclone: a local
repository folder and one reached as `rclone:offsite:repo` through `rclone serve sftp` on 127.0.0.1.

What is proven, as a user would notice it:
- a first run creates the repository (`init: true`) and makes a snapshot whose files sit at its top; a second run
  after one file changed and one was added stores little more than those bytes and counts the files right; a restore
  gives back the source byte for byte, the newest snapshot or one named by `snapshot=`; the same over sftp;
- a missing repository (without `init`) and a wrong password are CRITICAL, exit 1, and write nothing;
- the retention keys become restic's keep rules for this backup's snapshots only: exactly the snapshots restic's
  rules keep remain (computed here from the snapshot times), and `pruned` names the others;
- a corrupted pack is found by `verify:NAME` and by the run's own check (`read_data_subset: 100%`);
- locks: a lock of this host whose process is gone and older than `stale_lock_hours` is removed and the run goes
  through; a fresh lock of a dead process and a lock of a live process are reported and left alone;
- config: `days` with `engine: restic` and a missing repository password are named, and a run refuses;
- a dry run writes nothing into the repository and its result and log say what the snapshot would add, also with
  the password under a name of its own in the secrets file;
- `drill:NAME` restores a sample of the newest snapshot and names its files and the snapshot;
- the password reaches restic only in a file of mode 0600, never as an argument or a variable, and is written
  nowhere.

Removing a stale lock leaves every other lock and its process alone; a restic failure after the snapshot says
restic's reason; a dry run's summary line says what it would add.

Locks are written here as restic writes them (its lock JSON, encrypted with the repository's master key, which the
password opens), since restic has no way to write an old lock: AES-256-CTR plus Poly1305-AES, as in restic's
design document.
"""

import base64
import datetime
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.conftest import RCLONE, listing

RESTIC = shutil.which("restic") or "/usr/bin/restic"
PASSWORD = "correct horse battery staple"
HOST = socket.gethostname()
KIB = 1024

pytestmark = pytest.mark.skipif(not os.access(RESTIC, os.X_OK), reason="needs restic (Debian: apt install restic)")


@pytest.fixture(autouse=True)
def no_inherited_password(monkeypatch):
    """The password reaches a run only where a test gives it."""
    monkeypatch.delenv("RESTIC_PASSWORD", raising=False)
    monkeypatch.delenv("RESTIC_PASSWORD_FILE", raising=False)
    monkeypatch.delenv("RESTIC_REPOSITORY", raising=False)


def restic(repo, *args: str, cwd: Path | None = None, password: str = PASSWORD, rclone_config: Path | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    """restic itself on `repo` (a folder, or `rclone:remote:path` with `rclone_config`), without a cache."""
    env = {**os.environ, "RESTIC_PASSWORD": password}
    command = [RESTIC, "-r", str(repo), "--no-cache"]
    if rclone_config:
        command += ["-o", f"rclone.program={RCLONE}"]
        env["RCLONE_CONFIG"] = str(rclone_config)
    done = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def snapshots(repo, **options) -> list[dict]:
    """The repository's snapshots, oldest first."""
    found = json.loads(restic(repo, "snapshots", "--json", "--no-lock", **options).stdout) or []
    return sorted(found, key=lambda snapshot: snapshot["time"])


def snapshot_at(repo, source: Path, name: str, when: datetime.datetime | None = None) -> str:
    """A snapshot of `source` as a run of backup `name` on this host makes it (optionally at a faked time); its
    short id."""
    fake = ["--time", when.strftime("%Y-%m-%d %H:%M:%S")] if when else []
    done = restic(repo, "backup", "--json", "--tag", f"backup:{name}", "--host", HOST, *fake, ".", cwd=source)
    summary = [json.loads(line) for line in done.stdout.splitlines() if '"summary"' in line][-1]
    return summary["snapshot_id"][:8]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One empty repository, made once: `restic init` spends seconds tuning its key derivation."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    restic(repo, "init")
    return repo


@pytest.fixture
def new_repository(template):
    """`new_repository(path)`: an empty repository of its own at `path` (a copy of the template)."""
    def made(repo: Path) -> Path:
        shutil.copytree(template, repo)
        return repo
    return made


def random_files(base: Path, files: dict[str, int]) -> dict[str, bytes]:
    """{relative path: size} of incompressible content below `base`; what was written."""
    written = {}
    for relative, size in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        written[relative] = os.urandom(size)
        path.write_bytes(written[relative])
    return written


def entry(name: str, source: Path, destination, restic_settings: dict | None = None, **extra) -> dict:
    return {"name": name, "source_dir": str(source), "rclone_path": str(destination), "engine": "restic",
            "restic": restic_settings or {}, **extra}


def configure(site, tmp_path, *backups: dict, **settings) -> None:
    """The config, with a secrets file of its own (absent) so no password comes from anywhere but the test."""
    site.write_config(list(backups), secrets_file=str(tmp_path / "secrets.env"), **settings)


def run(site, *args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess:
    return site.doit(*args, env={"RESTIC_PASSWORD": password} if password is not None else {})


def output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def alerts(result: dict, level: str | None = None) -> list[str]:
    return [alert["message"] for alert in result["alerts"] if level in (None, alert["level"])]


def repository_files(repo: Path) -> dict[str, bytes]:
    """Every file of a local repository with its content: what a run wrote or removed shows here."""
    return listing(repo)


@pytest.fixture
def source(tmp_path) -> Path:
    """Many small incompressible files in subfolders, one with an odd name."""
    folder = tmp_path / "usb"
    random_files(folder, {**{f"docs/file{number:02}.bin": 8 * KIB for number in range(24)},
                          "photos/a b #1 ünï.jpg": 16 * KIB, "top.txt": 3 * KIB})
    return folder


# -- a local repository, and one over sftp ----------------------------------------------------------------------------


def recording_restic(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for restic that appends each call's arguments, the mode of its password file and whether it was
    given the password itself to a record, then runs restic; (the stand-in, the record)."""
    record, wrapper = tmp_path / "calls.txt", tmp_path / "restic-wrapper.sh"
    wrapper.write_text(f"""#!/bin/sh
{{
  echo "ARGS: $*"
  echo "PASSWORD FILE: ${{RESTIC_PASSWORD_FILE:+$(stat -c %a "$RESTIC_PASSWORD_FILE")}}"
  echo "PASSWORD VARIABLE: ${{RESTIC_PASSWORD:+given}}"
}} >> {record}
exec {RESTIC} "$@"
""")
    wrapper.chmod(0o755)
    return wrapper, record


def test_first_run_creates_the_repository_second_stores_only_what_changed_and_restores_give_back_each(
        site, source, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    wrapper, record = recording_restic(tmp_path)
    configure(site, tmp_path, entry("b1", source, repo, {"init": True, "binary": str(wrapper)}))
    first_files = listing(source)
    total = sum(len(content) for content in first_files.values())

    first = run(site)
    assert first.returncode == 0, output(first)
    assert (repo / "config").is_file() and (repo / "keys").is_dir()
    result = site.result("backup:b1")
    made = result["metrics"]["snapshot"]
    assert result["status"] == "ok" and result["pruned"] == []
    assert (made["files_new"], made["files_changed"], made["files_unmodified"]) == (len(first_files), 0, 0)
    assert made["total_files_processed"] == len(first_files) and made["total_bytes_processed"] == total
    assert total <= made["data_added"] <= total + 64 * KIB  # incompressible: every byte stored, once
    assert result["metrics"]["repository_bytes"] >= total
    assert f"created the restic repository at {repo}" in alerts(result, "INFO")
    assert re.search(rf"OK +b1: snapshot {made['snapshot_id']}: {len(first_files)} new, 0 changed, 0 unchanged "
                     rf"files, [\d.]+ KiB added, repository [\d.]+ KiB, \d+\.\d s -> {re.escape(str(repo))}",
                     first.stdout), first.stdout
    check = site.result("check_rclone:b1")
    assert check["metrics"]["restic_version"] == re.search(r"restic (\S+)", restic(repo, "version").stdout)[1]
    assert any("no restic repository at" in message and "init: true" in message for message in alerts(check, "INFO"))
    (first_snapshot,) = snapshots(repo)
    assert first_snapshot["short_id"] == made["snapshot_id"]
    assert first_snapshot["tags"] == ["backup:b1"] and first_snapshot["hostname"] == HOST

    changed = random_files(source, {"docs/file07.bin": 8 * KIB, "docs/new file.bin": 5 * KIB})
    second = run(site)
    assert second.returncode == 0, output(second)
    made_again = site.result("backup:b1")["metrics"]["snapshot"]
    assert (made_again["files_new"], made_again["files_changed"], made_again["files_unmodified"]) == \
        (1, 1, len(first_files) - 1)
    changed_bytes = sum(len(content) for content in changed.values())
    # the changed bytes themselves, plus the trees of the changed folders and the snapshot's own metadata
    assert changed_bytes <= made_again["data_added"] <= 2 * changed_bytes + 16 * KIB, made_again
    assert len(snapshots(repo)) == 2 and site.result("backup:b1")["pruned"] == []

    newest = run(site, "run", "restore:b1", f"target={tmp_path / 'restored'}")
    assert newest.returncode == 0, output(newest)
    assert listing(tmp_path / "restored") == listing(source)  # the source's files at the target's top
    assert f"restored snapshot {made_again['snapshot_id']}" in newest.stdout
    older = run(site, "run", "restore:b1", f"target={tmp_path / 'older'}", f"snapshot={made['snapshot_id']}")
    assert older.returncode == 0, output(older)
    assert listing(tmp_path / "older") == first_files

    # the password only ever in a file of mode 0600, removed after each call; never an argument or a variable
    calls = record.read_text()
    assert re.search(r"^ARGS: --repo \S+ .* init$", calls, re.MULTILINE) and " restore " in calls
    assert set(re.findall(r"^PASSWORD FILE: (.*)$", calls, re.MULTILINE)) == {"600"}
    assert "PASSWORD VARIABLE: given" not in calls
    assert PASSWORD not in calls and not list(site.config_path.parent.rglob("*.pass"))
    assert not [path for path in [*site.config_path.parent.rglob("*"), site.log_file]
                if path.is_file() and PASSWORD.encode() in path.read_bytes()]


def test_a_repository_on_an_sftp_remote_is_created_backed_up_and_restored_through_rclone(site, source, sftp, tmp_path):
    configure(site, tmp_path, entry("remote1", source, "offsite:repo", {"init": True}),
              rclone={"config": str(sftp.rclone_config)})
    done = run(site)
    assert done.returncode == 0, output(done)
    assert (sftp.root / "repo" / "config").is_file() and any((sftp.root / "repo" / "data").rglob("*"))
    result = site.result("backup:remote1")
    assert result["destination"] == "rclone:offsite:repo" and "-> rclone:offsite:repo" in done.stdout
    assert result["metrics"]["snapshot"]["files_new"] == len(listing(source))
    assert site.result("check_rclone:remote1")["metrics"]["remote_type"] == "sftp"
    (made,) = snapshots("rclone:offsite:repo", rclone_config=sftp.rclone_config)
    assert made["tags"] == ["backup:remote1"]

    restored = run(site, "run", "restore:remote1", f"target={tmp_path / 'restored'}")
    assert restored.returncode == 0, output(restored)
    assert listing(tmp_path / "restored") == listing(source)


# -- refusals that write nothing --------------------------------------------------------------------------------------


def test_a_missing_repository_without_init_is_critical_and_nothing_is_created(site, source, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    configure(site, tmp_path, entry("b1", source, repo))
    done = run(site)
    assert done.returncode == 1, output(done)
    assert f"no restic repository at {repo}: create it" in done.stdout
    check = site.result("check_rclone:b1")
    assert check["status"] == "failed" and any("no restic repository" in message
                                               for message in alerts(check, "CRITICAL"))
    assert site.result("backup:b1")["status"] == "skipped"
    assert list(repo.iterdir()) == []


def test_two_repositories_each_get_a_snapshot_and_a_line_and_one_failing_keeps_the_other(site, source, tmp_path,
                                                                                          new_repository):
    """`engine: restic` with two destinations: a snapshot in each, each told on its own summary line; one
    repository with a wrong password fails only itself (exit 1), the other still gets its snapshot."""
    first, second = new_repository(tmp_path / "repo1"), new_repository(tmp_path / "repo2")
    both = {**entry("b1", source, first), "destinations": [{"rclone_path": str(repo)} for repo in (first, second)]}
    del both["rclone_path"]
    configure(site, tmp_path, both)
    done = run(site)
    assert done.returncode == 0, output(done)
    assert "b1: 2 of 2 destinations ok" in done.stdout
    for repo in (first, second):
        assert re.search(rf"OK +at {re.escape(str(repo))}: snapshot [0-9a-f]{{8}}: 26 new", done.stdout), done.stdout
        assert len(snapshots(repo)) == 1
    restic(second, "key", "passwd", "--new-password-file", str(write_secret(tmp_path, "another password")))
    again = run(site)
    assert again.returncode == 1, output(again)
    assert "b1: 1 of 2 destinations ok" in again.stdout
    assert len(snapshots(first)) == 2
    assert any("wrong password or no key found" in message for message in alerts(site.result("check_rclone:b1")))


def write_secret(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "new-password"
    path.write_text(value)
    path.chmod(0o600)
    return path


def test_a_wrong_password_is_critical_and_the_snapshots_stay_untouched(site, source, tmp_path, new_repository):
    repo = new_repository(tmp_path / "repo")
    snapshot_at(repo, source, "b1")
    before = repository_files(repo)
    configure(site, tmp_path, entry("b1", source, repo, {"init": True}, retention=1))  # init: never over it
    done = run(site, password="not the password")
    assert done.returncode == 1, output(done)
    assert f"restic repository {repo}: wrong password or no key found" in done.stdout
    assert any("wrong password" in message for message in alerts(site.result("check_rclone:b1"), "CRITICAL"))
    assert site.result("backup:b1")["status"] == "skipped"
    assert repository_files(repo) == before and len(snapshots(repo)) == 1
    assert "not the password" not in output(done)


# -- retention --------------------------------------------------------------------------------------------------------


def restic_keeps(times: list[datetime.datetime], last: int, daily: int, weekly: int, monthly: int) -> set[int]:
    """restic's keep rules (`forget --keep-last/-daily/-weekly/-monthly`): going from the newest snapshot back, each
    rule keeps a snapshot whose period (the snapshot itself, day, ISO week, month) differs from the last one it
    kept, as long as its count lasts. The indexes of `times` kept."""
    periods = {"last": (last, lambda when, index: index),
               "daily": (daily, lambda when, index: when.date()),
               "weekly": (weekly, lambda when, index: when.isocalendar()[:2]),
               "monthly": (monthly, lambda when, index: (when.year, when.month))}
    left = {rule: count for rule, (count, _) in periods.items()}
    seen: dict[str, object] = {}
    kept = set()
    for index in sorted(range(len(times)), key=lambda number: times[number], reverse=True):
        for rule, (_, period) in periods.items():
            value = period(times[index], index)
            if left[rule] and seen.get(rule, object()) != value:
                kept.add(index)
                left[rule] -= 1
                seen[rule] = value
    return kept


def month_before(today: datetime.date, months: int, day: int, hour: int = 12) -> datetime.datetime:
    """`day` of the month `months` before today's, at `hour` (local time, as restic reads --time)."""
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return datetime.datetime(year, month + 1, day, hour)


def test_forget_keeps_exactly_what_the_retention_keys_say_for_this_backup_and_names_the_rest(
        site, source, tmp_path, new_repository):
    repo = new_repository(tmp_path / "repo")
    today = datetime.date.today()
    faked = [month_before(today, 5, 10),                                       # kept as its month's newest
             month_before(today, 4, 10), month_before(today, 4, 20),            # the 10th: not its month's newest
             month_before(today, 2, 5), month_before(today, 2, 12), month_before(today, 2, 19),
             month_before(today, 2, 20, 9), month_before(today, 2, 20, 18),     # the 9 o'clock: not its day's newest
             month_before(today, 2, 21)]
    ids = [snapshot_at(repo, source, "b1", when) for when in faked]
    other = snapshot_at(repo, source, "another-backup", month_before(today, 5, 1))  # not this backup's
    configure(site, tmp_path, entry("b1", source, repo, retention=2, retention_days=3, retention_weeks=3,
                                    retention_months=4))

    done = run(site)
    assert done.returncode == 0, output(done)
    result = site.result("backup:b1")
    new = result["metrics"]["snapshot"]["snapshot_id"]
    after = {snapshot["short_id"]: snapshot for snapshot in snapshots(repo)}
    made = datetime.datetime.fromisoformat(after[new]["time"]).astimezone().replace(tzinfo=None)
    times, names = [*faked, made], [*ids, new]
    kept = {names[index] for index in restic_keeps(times, last=2, daily=3, weekly=3, monthly=4)}
    assert {ids[6], ids[1]}.isdisjoint(kept) and {ids[0], ids[7], ids[8], new} <= kept  # the design holds
    assert set(after) == kept | {other}
    assert sorted(result["pruned"]) == sorted(set(ids) - kept)
    forgot = re.search(rf"OK +b1: snapshot {new}: .*; forgot (.+)$", done.stdout, re.MULTILINE)
    assert forgot and sorted(forgot[1].split(", ")) == sorted(result["pruned"]), done.stdout


# -- damage -----------------------------------------------------------------------------------------------------------


def test_a_corrupted_pack_fails_verify_and_the_runs_own_full_check(site, source, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    configure(site, tmp_path, entry("b1", source, repo, {"init": True, "read_data_subset": "100%"}))
    first = run(site)
    assert first.returncode == 0, output(first)
    assert site.result("backup:b1")["metrics"]["verified"] == "restic check, 100% of the data read"
    pack = max((path for path in (repo / "data").rglob("*") if path.is_file()), key=lambda path: path.stat().st_size)
    os.chmod(pack, 0o600)
    damaged = bytearray(pack.read_bytes())
    for offset in range(len(damaged) // 2, len(damaged) // 2 + 16):
        damaged[offset] ^= 0xFF
    pack.write_bytes(bytes(damaged))

    verified = run(site, "run", "verify:b1")
    assert verified.returncode == 1, output(verified)
    result = site.result("verify:b1")
    assert result["status"] == "failed"
    assert f"restic check --read-data of {repo}: repository contains errors" in alerts(result, "ERROR")

    again = run(site)
    assert again.returncode == 1, output(again)
    result = site.result("backup:b1")
    assert result["status"] == "failed" and result["pruned"] == []
    (message,) = alerts(result, "ERROR")
    assert message.startswith(f"restic check of {repo} found a problem: repository contains errors")
    assert "verify:b1" in message
    assert "The new snapshot is in the repository" in message
    assert len(snapshots(repo)) == 2


# -- locks ------------------------------------------------------------------------------------------------------------


def _mac(key: dict, nonce: bytes, data: bytes) -> bytes:
    """Poly1305-AES: Poly1305 keyed by r and AES_k(nonce)."""
    pad = Cipher(algorithms.AES(key["k"]), modes.ECB()).encryptor().update(nonce)
    return poly1305.Poly1305.generate_tag(key["r"] + pad, data)


def _open(key: dict, blob: bytes) -> bytes:
    nonce, body, tag = blob[:16], blob[16:-16], blob[-16:]
    assert _mac(key, nonce, body) == tag, "not sealed by this key"
    return Cipher(algorithms.AES(key["encrypt"]), modes.CTR(nonce)).decryptor().update(body)


def _seal(key: dict, plain: bytes) -> bytes:
    nonce = os.urandom(16)
    body = Cipher(algorithms.AES(key["encrypt"]), modes.CTR(nonce)).encryptor().update(plain)
    return nonce + body + _mac(key, nonce, body)


def master_key(repo: Path, password: str = PASSWORD) -> dict:
    """The repository's master key, from its key file opened with the password (scrypt, as restic derives it)."""
    (key_file,) = (repo / "keys").iterdir()
    return _master_key(key_file.read_text(), password)


@functools.cache
def _master_key(key_file: str, password: str) -> dict:
    found = json.loads(key_file)
    derived = hashlib.scrypt(password.encode(), salt=base64.b64decode(found["salt"]), n=found["N"], r=found["r"],
                             p=found["p"], maxmem=1 << 30, dklen=64)
    master = json.loads(_open({"encrypt": derived[:32], "k": derived[32:48], "r": derived[48:]},
                              base64.b64decode(found["data"])))
    return {"encrypt": base64.b64decode(master["encrypt"]), "k": base64.b64decode(master["mac"]["k"]),
            "r": base64.b64decode(master["mac"]["r"])}


def write_lock(repo: Path, hostname: str, pid: int, age: datetime.timedelta, key: dict | None = None) -> Path:
    """A non-exclusive lock as restic leaves it (its JSON, sealed, named by the sha256 of the file) taken `age` ago
    by `pid` on `hostname`."""
    when = datetime.datetime.now(datetime.UTC) - age
    lock = {"time": when.isoformat().replace("+00:00", "Z"), "exclusive": False, "hostname": hostname,
            "username": "backup", "pid": pid, "uid": os.getuid(), "gid": os.getgid()}
    blob = _seal(key or master_key(repo), json.dumps(lock).encode())
    path = repo / "locks" / hashlib.sha256(blob).hexdigest()
    path.write_bytes(blob)
    return path


def dead_pid() -> int:
    """A pid no process can have (above the kernel's pid_max), so nothing is ever signalled by mistake."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


@pytest.fixture
def live_process():
    """A process of this host that is alive for the test (ended by its pid afterwards)."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def locked_repo(tmp_path, source, new_repository) -> tuple[Path, str]:
    """A repository with one snapshot of backup b1 made yesterday; (its folder, that snapshot's id)."""
    repo = new_repository(tmp_path / "repo")
    yesterday = datetime.datetime.now() - datetime.timedelta(days=1)
    return repo, snapshot_at(repo, source, "b1", yesterday)


def test_locks_written_here_are_read_by_restic_as_its_own(locked_repo):
    repo, _ = locked_repo
    lock = write_lock(repo, "elsewhere", 4242, datetime.timedelta(hours=3))
    assert restic(repo, "list", "locks", "--no-lock").stdout.split() == [lock.name]
    shown = json.loads(restic(repo, "cat", "lock", lock.name, "--no-lock").stdout)
    assert (shown["hostname"], shown["pid"]) == ("elsewhere", 4242)


def test_a_stale_lock_of_this_host_is_removed_and_the_run_goes_through(site, source, tmp_path, locked_repo):
    repo, yesterdays = locked_repo
    stale = write_lock(repo, HOST, dead_pid(), datetime.timedelta(hours=2))
    configure(site, tmp_path, entry("b1", source, repo, {"stale_lock_hours": 1}, retention=1))
    done = run(site)
    assert done.returncode == 0, output(done)
    assert any(message.startswith(f"removed a stale lock of {HOST} (pid {dead_pid()}, since ")
               and message.endswith(f"from {repo}: its process is gone")
               for message in alerts(site.result("check_rclone:b1"), "INFO"))
    assert not stale.exists() and list((repo / "locks").iterdir()) == []
    result = site.result("backup:b1")  # prune took the repository's exclusive lock: nothing stood in its way
    assert result["pruned"] == [yesterdays] and [s["short_id"] for s in snapshots(repo)] == \
        [result["metrics"]["snapshot"]["snapshot_id"]]


def test_a_fresh_lock_of_a_dead_process_and_locks_of_live_ones_are_reported_and_left_alone(
        site, source, tmp_path, locked_repo, live_process):
    repo, yesterdays = locked_repo
    key = master_key(repo)
    fresh = write_lock(repo, HOST, dead_pid(), datetime.timedelta(minutes=5), key)
    running = write_lock(repo, HOST, live_process.pid, datetime.timedelta(minutes=1), key)
    foreign = write_lock(repo, "otherhost", 4242, datetime.timedelta(minutes=10), key)
    configure(site, tmp_path, entry("b1", source, repo, {"stale_lock_hours": 0.5}, retention=1))
    done = run(site)
    warnings = alerts(site.result("check_rclone:b1"), "WARNING")
    assert len(warnings) == 3, warnings
    said = {re.search(r"locked by (\S+) \(pid (\d+),", message).groups(): message for message in warnings}
    assert said[(HOST, str(dead_pid()))].endswith("its process is gone: it is removed once it is older than "
                                                 "stale_lock_hours")
    assert said[(HOST, str(live_process.pid))].endswith("a backup or prune may be running there")
    assert said[("otherhost", "4242")].endswith("a backup or prune may be running there")
    assert all(message.startswith(f"the restic repository at {repo} is locked by ") for message in warnings)
    assert fresh.exists() and running.exists() and foreign.exists() and live_process.poll() is None
    # the snapshot is made beside the locks, but prune cannot have the repository: nothing is forgotten
    assert done.returncode == 1, output(done)
    result = site.result("backup:b1")
    assert result["status"] == "failed" and result["pruned"] == []
    assert "no snapshot was forgotten" in result["reason"]
    assert [s["short_id"] for s in snapshots(repo)] == [yesterdays, result["metrics"]["snapshot"]["snapshot_id"]]


def test_removing_a_stale_lock_leaves_every_other_lock_and_its_process_alone(
        site, source, tmp_path, locked_repo, live_process):
    repo, _ = locked_repo
    key = master_key(repo)
    stale = write_lock(repo, HOST, dead_pid(), datetime.timedelta(hours=2), key)
    running = write_lock(repo, HOST, live_process.pid, datetime.timedelta(minutes=1), key)
    foreign = write_lock(repo, "otherhost", 4242, datetime.timedelta(hours=2), key)
    configure(site, tmp_path, entry("b1", source, repo, {"stale_lock_hours": 1}))
    run(site, "run", "check_rclone:b1")
    check = site.result("check_rclone:b1")
    assert any(message.startswith(f"removed a stale lock of {HOST}") for message in alerts(check, "INFO"))
    assert any("locked by otherhost (pid 4242," in message for message in alerts(check, "WARNING"))
    assert not stale.exists()
    time.sleep(0.2)
    harmed = [*([] if foreign.exists() else ["otherhost's lock (reported as standing) was removed"]),
              *([] if running.exists() else ["the live process's lock was removed"]),
              *([] if live_process.poll() is None else [f"the live process got signal {-live_process.returncode}"])]
    assert harmed == []


def test_a_prune_that_cannot_lock_the_repository_says_why(site, source, tmp_path, locked_repo, live_process):
    repo, _ = locked_repo
    write_lock(repo, HOST, live_process.pid, datetime.timedelta(minutes=1))
    configure(site, tmp_path, entry("b1", source, repo, retention=1))
    done = run(site)
    assert done.returncode == 1
    (message,) = alerts(site.result("backup:b1"), "ERROR") + alerts(site.result("backup:b1"), "CRITICAL")
    assert "unexpected error" not in message and "locked" in message and str(live_process.pid) in message, message


# -- config -----------------------------------------------------------------------------------------------------------


def test_days_with_restic_and_a_missing_password_are_named_and_the_run_refuses(site, source, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    configure(site, tmp_path, entry("b1", source, repo, {"init": True}, days=1))
    listed = run(site, "list")
    assert "backup_copy_list[0] (b1).days: has no meaning with `engine: restic`" in output(listed), output(listed)
    refused = run(site)
    assert refused.returncode != 0 and "has no meaning with `engine: restic`" in output(refused)
    assert list(repo.iterdir()) == []

    configure(site, tmp_path, entry("b1", source, repo, {"init": True}))
    listed = run(site, "list", password=None)
    assert "backup_copy_list[0] (b1).restic.password_secret: RESTIC_PASSWORD is not set in" in output(listed), \
        output(listed)
    refused = run(site, password=None)
    assert refused.returncode != 0 and "RESTIC_PASSWORD is not set" in output(refused)
    assert list(repo.iterdir()) == []


# -- dry run and drill ------------------------------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_says_what_the_snapshot_would_add(site, source, tmp_path, new_repository):
    repo = new_repository(tmp_path / "repo")
    snapshot_at(repo, source, "b1")
    added = random_files(source, {"new/one.bin": 6 * KIB, "new/two.bin": 6 * KIB})
    before = repository_files(repo)
    secrets = tmp_path / "secrets.env"  # the password by a name of its own, from the secrets file
    secrets.write_text(f"OFFSITE_REPO_KEY={PASSWORD}\n")
    secrets.chmod(0o600)
    configure(site, tmp_path, entry("b1", source, repo, {"password_secret": "OFFSITE_REPO_KEY"}, retention=1))
    done = run(site, "dry_run=1", password=None)
    assert done.returncode == 0, output(done)
    (said,) = [message for message in alerts(site.result("backup:b1"), "INFO") if message.startswith("dry run:")]
    assert said.startswith(f"dry run: a snapshot in {repo} would hold {len(added)} new, 0 changed and "
                           f"{len(listing(source)) - len(added)} unchanged files, adding ")
    assert said in site.log_file.read_text()
    assert repository_files(repo) == before and len(snapshots(repo)) == 1

    missing = tmp_path / "empty"
    missing.mkdir()
    configure(site, tmp_path, entry("b2", source, missing, {"password_secret": "OFFSITE_REPO_KEY", "init": True}))
    done = run(site, "dry_run=1", password=None)
    assert done.returncode == 0, output(done)
    assert any(message.startswith(f"dry run: no restic repository at {missing} yet: a run would create it")
               for message in alerts(site.result("backup:b2"), "INFO"))
    assert list(missing.iterdir()) == []


def test_a_drill_restores_a_sample_of_the_newest_snapshot_and_names_it(site, source, tmp_path, new_repository):
    repo = new_repository(tmp_path / "repo")
    snapshot_at(repo, source, "b1", datetime.datetime.now() - datetime.timedelta(days=2))
    newest = snapshot_at(repo, source, "b1")
    configure(site, tmp_path, entry("b1", source, repo, drill_files=4))
    done = run(site, "run", "drill:b1")
    assert done.returncode == 0, output(done)
    result = site.result("drill:b1")
    assert result["status"] == "ok"
    drill = result["metrics"]["drill"]
    assert drill == {"folder": f"snapshot {newest}", "files": 4, "bytes": drill["bytes"]} and drill["bytes"] > 0
    assert re.search(rf"restore drill: 4 files \([\d.]+ KiB\) of snapshot {newest} restored and verified against "
                     "the snapshot", done.stdout), done.stdout


def test_a_dry_runs_summary_line_says_what_the_snapshot_would_add(site, source, tmp_path, new_repository):
    repo = new_repository(tmp_path / "repo")
    configure(site, tmp_path, entry("b1", source, repo))
    done = run(site, "dry_run=1")
    assert done.returncode == 0, output(done)
    line = re.search(r"^ +OK +b1:(.*)$", done.stdout, re.MULTILINE)
    assert line and f"{len(listing(source))} new" in line[1], done.stdout


def test_restore_by_date_is_refused_naming_snapshot_ids_instead(site, source, tmp_path, new_repository):
    """A restic backup has snapshots, not dated folders: `date=` is refused, never silently replaced by the newest
    snapshot; and `snapshot=` on a backup with dated folders is refused the same way."""
    repo = new_repository(tmp_path / "repo")
    configure(site, tmp_path, entry("b1", source, repo),
              {"name": "plain", "source_dir": str(source), "rclone_path": str(tmp_path)})
    target = tmp_path / "restored"
    by_date = run(site, "run", "restore:b1", "date=2026-12-01", f"target={target}")
    assert by_date.returncode == 1 and "name one with snapshot=ID" in by_date.stdout, output(by_date)
    by_snapshot = run(site, "run", "restore:plain", "snapshot=1a2b3c4d", f"target={target}")
    assert by_snapshot.returncode == 1 and "snapshot= is for backups with `engine: restic`" in by_snapshot.stdout
    assert not target.exists() or not any(target.iterdir())
