"""Attacks of an unprivileged local user on the rclone wrapper and the watchdog (real rclone, loopback servers):
secrets read from command lines or messages, tokens inherited by children, a source file swapped for a bigger one
after the walk, a child reporting progress forever, a check report too big for memory."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from tasks import rclone as rc
from tasks import watchdog
from tasks.config import RcloneSettings
from tests.conftest import RCLONE, RcloneServer, make_files, obscure

LOG = logging.getLogger("test")
MIB = 1024 * 1024


def tool(flags=(), timeout=30, stall_timeout=60, **deadline) -> rc.Rclone:  # deadline only when given
    return rc.Rclone(RcloneSettings(RCLONE, None, tuple(flags)), timeout, stall_timeout, **deadline)


def write_list(path: Path, names) -> Path:
    path.write_text("".join(f"{name}\n" for name in names))
    return path


@pytest.fixture
def private_sftp(tmp_path):
    """`rclone serve sftp` with a user and password of its own, and the on-the-fly remote that reaches it."""
    server = RcloneServer("sftp", tmp_path / "sftp-root", tmp_path / "sftp-rclone")
    server.user, server.password = "planted-user-q7k2", "planted-pass-m3x9"
    server.start()
    server.obscured = obscure(server.password)
    server.remote = (f":sftp,host=127.0.0.1,port={server.port},user={server.user},pass={server.obscured},"
                     "shell_type=none:")
    yield server
    server.stop()


def watch_rclone(stop: threading.Event, excluded_pid: int, everyone: dict, ours: dict) -> None:
    """Read, as any local user can, the command line of every rclone process until `stop`; keep those of our own
    children with their environment (which only the same user can read)."""
    while not stop.wait(0.01):
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and int(proc.name) != excluded_pid:
                    argv = proc.joinpath("cmdline").read_bytes().decode("utf-8", "replace").split("\0")
                    if argv[0] == RCLONE:
                        everyone[proc.name] = argv
                    if argv[0] == RCLONE and int(proc.joinpath("stat").read_text().rsplit(")")[1].split()[1]) \
                            == os.getpid():
                        environ = proc.joinpath("environ").read_bytes().decode("utf-8", "replace").split("\0")
                        ours[proc.name] = (argv, dict(v.split("=", 1) for v in environ if "=" in v))
            except (OSError, IndexError, ValueError):
                pass  # gone meanwhile


def test_no_remote_option_on_any_command_line(private_sftp, tmp_path, monkeypatch):
    """Attack: read /proc/PID/cmdline of rclone during a copy and `rclone reveal` the obscured password."""
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.planted-in-parent")
    source = tmp_path / "src"
    make_files(source, {"big.bin": os.urandom(3 * MIB), "small.txt": "s"})
    listed = write_list(tmp_path / "list", ["big.bin", "small.txt"])
    rclone, destination = tool(flags=["--bwlimit", "2M"]), private_sftp.remote + "dst"
    stop, everyone, ours = threading.Event(), {}, {}  # pid -> command line; pid -> (command line, environment)
    watcher = threading.Thread(target=watch_rclone, args=(stop, private_sftp.process.pid, everyone, ours))
    watcher.start()
    try:
        assert rclone.probe(private_sftp.remote) is True
        outcome = rclone.copy(source, destination, listed, LOG)
        files = rclone.list_files(destination)
    finally:
        stop.set()
        watcher.join()
    assert outcome.returncode == 0 and outcome.accounted == 2, outcome.messages
    assert sorted(files) == [("big.bin", 3 * MIB), ("small.txt", 1)]
    assert (private_sftp.root / "dst" / "small.txt").read_text() == "s"
    secrets = (private_sftp.obscured, private_sftp.password, private_sftp.user)
    assert not [line for line in map(" ".join, everyone.values()) if any(s in line for s in secrets)]
    copies = [(argv, env) for argv, env in ours.values() if "copy" in argv]
    assert copies, "no rclone copy was seen running: the test proved nothing"
    for argv, environment in ours.values():
        assert not any(arg.startswith(":sftp") for arg in argv)
        assert "SENDGRID_API_KEY" not in environment  # the channels' tokens stay with us
    argv, environment = copies[0]
    name = next(arg for arg in argv if arg.startswith("otf_")).split(":")[0]
    assert environment[f"RCLONE_CONFIG_{name.upper()}_PASS"] == private_sftp.obscured


def test_flag_values_and_nested_remotes_stay_off_the_command_line_too():
    argv, environment = tool()._command("copy", "src", ":crypt,remote=':sftp,host=h,pass=OBSC1:x',password=OBSC2:d",
                                        "--backup-dir=:sftp,host=h,user=u,pass='a:OBSC3':old")
    assert not any(secret in " ".join(argv) for secret in ("OBSC", "host=", "user="))
    assert argv[3].startswith("otf_") and argv[3].endswith(":d") and argv[4].startswith("--backup-dir=otf_")
    assert sorted(v for v in environment.values() if "OBSC" in v) == [":sftp,host=h,pass=OBSC1:x", "OBSC2", "a:OBSC3"]


def test_messages_show_the_on_the_fly_remote_redacted_not_its_generated_name(private_sftp):
    wrong = private_sftp.remote.replace(private_sftp.obscured, obscure("wrong")) + "dst"
    with pytest.raises(rc.RcloneError) as failure:
        tool(timeout=20).probe(wrong)
    message = str(failure.value)
    assert "otf_" not in message
    assert private_sftp.user not in message
    assert f":sftp,host=***,port={private_sftp.port},user=***,pass=***,shell_type=none:dst" in message


def sensitive_options() -> list[tuple[str, str]]:
    """(backend prefix, option) for every option the real rclone marks Sensitive or IsPassword."""
    providers = json.loads(subprocess.run([RCLONE, "config", "providers"], capture_output=True, check=True).stdout)
    return sorted({(backend["Prefix"], option["Name"]) for backend in providers for option in backend["Options"]
                   if option.get("Sensitive") or option.get("IsPassword")})


def test_redact_masks_every_option_rclone_calls_sensitive():
    """Attack: read the summary, log, result files or `doit list` for a crypt password2, a key_pem, …"""
    cases = sensitive_options()
    assert len(cases) > 100 and ("crypt", "password2") in cases and ("drive", "service_account_credentials") in cases
    leaks = []
    for backend, option in cases:
        for value in ("planted-X7", "'planted:X7,y'", '"planted""X7:y"'):
            text = f"copy to :{backend},port=2022,{option}={value}:some/dir failed"
            masked = rc.redact(text)
            if "X7" in masked or masked != f"copy to :{backend},port=2022,{option}=***:some/dir failed":
                leaks.append(masked)
    assert not leaks, f"{len(leaks)} leaks, e.g. {leaks[:5]}"
    from tasks.rclone import onthefly  # the options shown are ones rclone never calls sensitive
    assert not onthefly.HARMLESS & {option for _, option in cases}


def test_children_get_only_the_environment_they_need(monkeypatch):
    """Attack: a compromised or verbose child (rclone -vv, find) leaks the notification channels' tokens."""
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.planted")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "planted:telegram")
    monkeypatch.setenv("RCLONE_TRANSFERS", "7")
    monkeypatch.setenv("LC_TIME", "C")
    process = watchdog.start([sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
                             stdout=subprocess.PIPE)
    seen = json.loads(process.communicate(timeout=30)[0])
    assert "SENDGRID_API_KEY" not in seen and "TELEGRAM_BOT_TOKEN" not in seen
    assert seen["RCLONE_TRANSFERS"] == "7" and seen["LC_TIME"] == "C" and seen["PATH"] == os.environ["PATH"]
    assert watchdog.child_environment({"RCLONE_CONFIG_X_TYPE": "local"})["RCLONE_CONFIG_X_TYPE"] == "local"


@pytest.fixture
def selected(tmp_path):
    """Files as the walk found them, their list and their total size."""
    source = tmp_path / "src"
    files = {"a.bin": os.urandom(1000), "b.bin": os.urandom(500), "c.bin": os.urandom(2 * MIB + 3), "e.empty": b""}
    make_files(source, files)
    return source, write_list(tmp_path / "list", files), sum(map(len, files.values()))


def test_exactly_the_selected_bytes_are_copied_and_one_byte_more_is_refused(selected, tmp_path):
    """Attack: append to a listed file between the walk and the copy."""
    source, listed, total = selected
    # the empty file last: rclone's own cap (--max-transfer N) refuses to start any file once N bytes went
    outcome = tool(flags=["--transfers", "1", "--order-by", "name"]).copy(source, str(tmp_path / "dst"), listed,
                                                                          LOG, max_bytes=total)
    assert (outcome.returncode, outcome.copied, outcome.bytes) == (0, 4, total), outcome.messages
    with open(source / "b.bin", "ab") as grown:
        grown.write(b"!")
    outcome = tool().copy(source, str(tmp_path / "dst2"), listed, LOG, max_bytes=total)
    assert outcome.returncode == rc.MAX_TRANSFER_REACHED
    assert f"the source grew after it was selected: more than {total} bytes" in outcome.messages[0]


def test_a_listed_file_swapped_for_a_huge_one_is_stopped_before_it_is_sent(selected, tmp_path):
    """Attack: replace a listed file by a huge one after the walk, to fill the remote or its quota."""
    source, listed, total = selected
    (source / "a.bin").write_bytes(os.urandom(64 * MIB))  # 32 s at the 2 MiB/s below
    started = time.monotonic()
    outcome = tool(flags=["--bwlimit", "2M"]).copy(source, str(tmp_path / "dst"), listed, LOG, max_bytes=total)
    assert time.monotonic() - started < 15
    assert outcome.returncode == rc.MAX_TRANSFER_REACHED and "the source grew" in outcome.messages[0]
    assert not (tmp_path / "dst" / "a.bin").exists()


def forever_progress_child(tmp_path) -> Path:
    script = tmp_path / "progress-forever"
    script.write_text("#!/bin/sh\nwhile :; do echo .; sleep 0.05; done\n")
    script.chmod(0o755)
    return script


def test_a_child_that_reports_progress_forever_stops_at_the_deadline(tmp_path):
    """Attack: a listed file swapped for a link to /dev/zero: the hash child reported progress for 11 minutes."""
    process = watchdog.start([str(forever_progress_child(tmp_path))], stdout=subprocess.PIPE)
    started = time.monotonic()
    with pytest.raises(watchdog.DeadlineReached, match=r"time limit \(run_timeout_hours\)") as stopped:
        for _ in watchdog.lines(process, process.stdout, stall_seconds=60, deadline=started + 1.5):
            pass
    assert "no progress" not in str(stopped.value) and time.monotonic() - started < 5
    assert process.wait(timeout=5) == -signal.SIGKILL


def test_run_child_stops_at_the_deadline_however_much_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(forever_progress_child(tmp_path)))  # stands in for tasks.child
    started = time.monotonic()
    with pytest.raises(watchdog.DeadlineReached, match="run_timeout_hours"):
        watchdog.run_child("hash", {}, stall_seconds=60, deadline=started + 1.5)
    assert time.monotonic() - started < 5
    with pytest.raises(watchdog.DeadlineReached):  # past it: not even started
        watchdog.run_child("hash", {}, stall_seconds=60, deadline=time.monotonic() - 1)


def test_a_copy_that_keeps_progressing_stops_at_the_deadline(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"big.bin": os.urandom(16 * MIB)})  # 16 s at 1 MiB/s
    started = time.monotonic()
    outcome = tool(flags=["--bwlimit", "1M"], stall_timeout=60, deadline=started + 2).copy(
        source, str(tmp_path / "dst"), write_list(tmp_path / "list", ["big.bin"]), LOG)
    assert time.monotonic() - started < 8
    assert outcome.returncode != 0 and "time limit (run_timeout_hours)" in " ".join(outcome.messages)
    assert "no progress" not in " ".join(outcome.messages)


def test_a_probe_never_waits_past_the_deadline(private_sftp):
    """A hung server: the probe's own timeout (60 s) is longer than what is left of the run."""
    os.kill(private_sftp.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(rc.RcloneError, match="time limit"):
            tool(timeout=60, deadline=started + 2).probe(private_sftp.remote)
        assert time.monotonic() - started < 6
        with pytest.raises(rc.RcloneError, match="not started"):
            tool(deadline=time.monotonic() - 1).config_file()
    finally:
        os.kill(private_sftp.process.pid, signal.SIGCONT)


def test_a_huge_check_report_is_streamed_with_exact_counts(tmp_path):
    """A million listed files made reports of hundreds of MiB, read whole into memory."""
    report = tmp_path / "combined"
    with open(report, "w") as out:
        for mark, name, count in (("=", "dir/matched-file.bin", 400_000), ("*", "differ", 2500), ("+", "missing", 1500),
                                  ("!", "gone", 3), ("!", "unreadable", 1200)):
            out.writelines(f"{mark} {name}-{i}\n" for i in range(count))
    stderr = "\n".join(json.dumps({"level": "error", "msg": "file does not exist", "object": f"gone-{i}"})
                       for i in range(3))
    tracemalloc.start()
    try:
        outcome = rc.outcomes.read_check(report, stderr)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB < report.stat().st_size / 4
    assert (outcome.matched, outcome.differ_count, outcome.missing_count, outcome.errors_count) == \
           (400_000, 2500, 1503, 1200)
    assert len(outcome.differ) == len(outcome.missing) == len(outcome.errors) == 1000
    assert not outcome.clean and outcome.describe().startswith("2500 differ (differ-0, differ-1, ")
    assert "; 1503 missing (missing-0, " in outcome.describe() and ", …); 1200 unreadable" in outcome.describe()


def test_check_outcomes_count_exactly_whether_read_or_built_by_hand(tmp_path):
    by_hand = rc.CheckOutcome(matched=1, differ=("a",), missing=(), errors=(), hash_checked=True)
    assert (by_hand.differ_count, by_hand.missing_count, by_hand.clean, by_hand.describe()) == (1, 0, False,
                                                                                               "1 differ (a)")
    make_files(tmp_path / "src", {"same": "1", "differs": "2", "missing": "3"})
    make_files(tmp_path / "dst", {"same": "1", "differs": "X"})
    listed = write_list(tmp_path / "list", ["same", "differs", "missing"])
    outcome = tool().check(tmp_path / "src", str(tmp_path / "dst"), listed, False, tmp_path / "report")
    assert (outcome.matched, outcome.differ, outcome.missing, outcome.errors) == (1, ("differs",), ("missing",), ())
    assert (outcome.differ_count, outcome.missing_count, outcome.errors_count) == (1, 1, 0)
