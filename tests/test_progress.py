"""Progress on a terminal, quiet under cron: real runs in tmux (a terminal, as a person sees it) and with pipes
(as cron runs it), plus the line's rules (rate, sharing, log) and the counts the children report."""

import io
import logging
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

from tasks import child, integrity, progress, selection, watchdog
from tests.conftest import PROJECT, make_files

MIB = 1024 * 1024
SLOW = {"rclone": {"flags": ["--bwlimit", "2M"]}}  # a copy of 20 MiB takes ~10 s
RATE = re.compile(r"^docs: (copying|restoring) [\d.]+ [KM]iB of [\d.]+ MiB, [\d.]+ [KM]iB/s", re.MULTILINE)


@pytest.fixture
def slow_site(site, tmp_path):
    """A backup `docs` of 20 MiB into a local folder, copied at 2 MiB/s."""
    make_files(tmp_path / "src", {f"sub/part{i}.bin": os.urandom(4 * MIB) for i in range(5)})
    (tmp_path / "dst").mkdir()
    site.write_config([{"name": "docs", "source_dir": str(tmp_path / "src"), "rclone_path": str(tmp_path / "dst")}],
                      **SLOW)
    return site


class Tmux:
    """A terminal of its own (a private tmux server) that runs one command and is read as a person sees it."""

    def __init__(self, socket: str):
        self.base = ["tmux", "-L", socket]

    def run(self, command: list[str], env: dict | None = None) -> None:
        variables = " ".join(f"{name}={shlex.quote(value)}" for name, value in (env or {}).items())
        line = f"cd {shlex.quote(str(PROJECT))} && env {variables} {shlex.join(command)}; echo RUN-ENDED; sleep 600"
        subprocess.run(self.base + ["new-session", "-d", "-x", "200", "-y", "60", line], check=True)

    def screen(self) -> str:
        return subprocess.run(self.base + ["capture-pane", "-p", "-S", "-"], capture_output=True, text=True).stdout

    def wait_for(self, pattern: re.Pattern, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if pattern.search(screen := self.screen()):
                return screen
            time.sleep(0.5)
        pytest.fail(f"{pattern.pattern!r} never showed; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(self.base + ["kill-server"], capture_output=True)


@pytest.fixture
def tmux():
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (scripts/test.sh installs it as root): no terminal to watch")
    terminal = Tmux(f"backup-progress-test-{os.getpid()}")
    yield terminal
    terminal.close()


def test_on_a_terminal_a_slow_copy_shows_its_bytes_rate_and_time_left_by_name(slow_site, tmux):
    tmux.run(slow_site.doit_command())
    while_copying = tmux.wait_for(RATE, seconds=30)
    assert "RUN-ENDED" not in while_copying  # shown while it runs, not after
    screen = tmux.wait_for(re.compile("RUN-ENDED"), seconds=60)
    assert "1 of 1 backups ok" in screen
    assert re.search(r"^docs: copying .* MiB/s, \d+ s left$", screen, re.MULTILINE)
    assert '{"' not in screen and "\r" not in screen
    result = (slow_site.config_path.parent / "results" / "backup-docs.json").read_text()
    assert "MiB/s" not in result


def test_restore_on_a_terminal_shows_the_same_line_and_no_rclone_json(slow_site, tmux, tmp_path):
    assert slow_site.doit().returncode == 0
    target = tmp_path / "restored"
    tmux.run(slow_site.doit_command("run", "restore:docs", f"target={target}"), env={"RCLONE_BWLIMIT": "4M"})
    screen = tmux.wait_for(re.compile("RUN-ENDED"), seconds=60)
    assert re.search(r"^docs: restoring [\d.]+ MiB of 20.0 MiB, [\d.]+ MiB/s", screen, re.MULTILINE), screen
    assert "all match SHA256SUMS" in screen
    assert '{"' not in screen and "Transferred:" not in screen  # neither rclone's JSON log nor its --progress


def test_without_a_terminal_only_the_summary_is_printed(slow_site):
    run = slow_site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 of 1 backups ok" in run.stdout
    for shown in (run.stdout, run.stderr):
        assert not re.search(r"listing:|copying [\d.]+ \S+ of|hashing \d|MiB/s", shown), shown
    assert "progress:" not in slow_site.log_file.read_text()  # shorter than a minute: no progress in the log


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watched(stream=None) -> tuple[progress.Progress, Clock, list[str]]:
    clock, logged = Clock(), []
    log = logging.getLogger("backup.test-progress")
    log.setLevel(logging.INFO)
    log.handle = lambda record: logged.append(record.getMessage())
    return progress.Progress("docs", log, stream, clock), clock, logged


def test_one_line_per_backup_every_two_seconds_with_the_copy_and_the_hashing_together():
    stream = io.StringIO()
    shown, clock, logged = watched(stream)
    with shown.showing("copying") as copying, shown.showing("hashing") as hashing:
        clock.now += 1
        copying(progress.transferring("copying", {"bytes": 120 * MIB, "totalBytes": 240 * MIB,
                                                  "speed": 20 * MIB, "eta": 6}))
        hashing(progress.hashing(3, 5 * MIB, 12, 240 * MIB))
        clock.now += 1.5
        copying("copying more")  # 1.5 s after the last line: not shown
        clock.now += 0.5
        hashing(progress.hashing(4, 6 * MIB, 12, 240 * MIB))
    clock.now += 3
    with shown.showing("listing") as listing:
        listing(progress.listing(12345))  # started just now: not worth a line yet
        clock.now += 1
        listing(progress.listing(23456))
    assert stream.getvalue().splitlines() == [
        "docs: copying 120.0 MiB of 240.0 MiB, 20.0 MiB/s, 6 s left",
        "docs: copying more; hashing 4 of 12 files (6.0 MiB of 240.0 MiB)",
        "docs: listing: 23,456 files so far",
    ]
    assert logged == []  # not a minute yet


def test_the_log_gets_a_line_a_minute_and_nothing_is_printed_without_a_terminal():
    shown, clock, logged = watched(stream=None)
    show = shown.transfer("restoring")
    for second in range(0, 150, 2):
        clock.now = 1000.0 + second
        show({"bytes": second * MIB, "totalBytes": 300 * MIB, "speed": MIB, "eta": 300 - second})
    assert logged == ["progress: restoring 60.0 MiB of 300.0 MiB, 1.0 MiB/s, 4 min 0 s left",
                      "progress: restoring 120.0 MiB of 300.0 MiB, 1.0 MiB/s, 3 min 0 s left"]


def test_an_unknown_total_or_time_left_is_left_out():
    assert progress.transferring("copying", {"bytes": 0, "totalBytes": 0, "speed": 0, "eta": None}) == \
        "copying 0 B, 0 B/s"


def test_the_children_count_the_files_listed_and_hashed(tmp_path):
    make_files(tmp_path / "src", {"a.bin": b"a" * (2 * MIB + 5), "empty": b"", "b.txt": b"bee", "c/d.bin": b"d"})
    list_file = tmp_path / "files"
    selection.select(tmp_path / "src", None, (), list_file)
    assert child.ListedSoFar(list_file)() == (4,)
    counted = child.HashedSoFar(list_file)
    hashed, problems = integrity.hash_listed(tmp_path / "src", list_file, tmp_path / "sums", progress=counted)
    assert (hashed, problems) == (4, [])
    files, done = counted.count()
    assert done == 2 * MIB + 9 and files >= 3  # an empty file listed last is only counted at the next read


def test_a_heartbeat_carries_its_count_to_the_parent(tmp_path, capsys):
    watchdog.Heartbeat(count=lambda: (12, 345))()
    assert capsys.readouterr().out == ". 12 345\n"
    make_files(tmp_path / "src", {f"f{i}": "x" for i in range(3)})
    counts = []
    payload = {"source": str(tmp_path / "src"), "newer_than": None, "exclude": [], "list_file": str(tmp_path / "l")}
    chosen = watchdog.run_child("select", payload, 30, on_count=lambda *numbers: counts.append(numbers))
    assert chosen["files"] == 3 and counts and all(len(numbers) == 1 for numbers in counts)
