"""What a person reads: the printed output of the real doit CLI, the log's lines, and restore/drill messages."""

import datetime
import json
import logging
import os
import re
import shlex
import subprocess
import textwrap

import pytest

from tests.conftest import DOIT, PROJECT, make_files, make_job

STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}"  # tasks.clock.FORMAT


def entry(name, source, destination, **extra) -> dict:
    return {"name": name, "source_dir": str(source), "rclone_path": str(destination), **extra}


@pytest.fixture
def copied(site, tmp_path):
    """A site whose backup `docs` has one complete dated folder (today's) at a local destination."""
    source, destination = tmp_path / "usb", tmp_path / "nas"
    destination.mkdir()
    make_files(source, {"a.txt": "alpha", "sub/b.txt": "beta"})
    site.write_config([entry("docs", source, destination)])
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    return site


def test_a_failed_run_prints_the_summary_without_doits_framing_or_a_repeat(site, tmp_path):
    (tmp_path / "nas").mkdir()
    site.write_config([entry("gone", tmp_path / "unplugged", tmp_path / "nas")])
    run = site.doit()
    assert run.returncode == 1
    assert "taskid:" not in run.stdout + run.stderr and "TaskFailed" not in run.stdout + run.stderr
    assert run.stdout.count("check_mounts:gone") == 2  # the backup's line and the problem, nothing after them
    assert "failed: backup:gone" not in run.stdout


def test_an_invalid_config_is_explained_on_stdout_once(site, tmp_path):
    site.write_config([entry("docs", tmp_path, tmp_path, retension=3)])
    run = site.doit()
    assert run.returncode == 1
    assert "CRITICAL: invalid config, nothing was done" in run.stdout and "retension: unknown field" in run.stdout
    assert "taskid:" not in run.stdout and run.stdout.count("invalid config") == 1


def test_a_crash_still_shows_its_traceback(tmp_path):
    (tmp_path / "dodo.py").write_text(textwrap.dedent("""
        from tasks.graph import QuietReporter
        DOIT_CONFIG = {"reporter": QuietReporter, "verbosity": 2}
        def crash():
            return 1 / 0
        def task_crash():
            return {"actions": [crash]}
    """))
    run = subprocess.run([DOIT, "-f", str(tmp_path / "dodo.py")], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert run.returncode == 2
    assert "ERROR: crash crashed" in run.stdout and "ZeroDivisionError" in run.stdout and "Traceback" in run.stdout
    assert "taskid:" not in run.stdout


def test_list_into_a_pipe_closed_early_prints_no_traceback(site, tmp_path):
    site.write_config([entry(f"b{number}", tmp_path, tmp_path) for number in range(300)])
    piped = subprocess.run(["bash", "-c", shlex.join(site.doit_command("list", "--all")) + " | head -1"],
                           capture_output=True, text=True, timeout=120)
    assert piped.stdout.startswith("b") and len(piped.stdout.splitlines()) == 1
    assert piped.stderr == "", piped.stderr


def test_the_log_has_a_start_and_an_end_line_and_one_timestamp_format(copied):
    log = copied.log_file.read_text()
    assert re.search(rf"^{STAMP} INFO +backup: run started: notify; config {re.escape(str(copied.config_path))}; "
                     r"host \S+; not a dry run$", log, re.M)
    assert re.search(rf"^{STAMP} INFO +backup: rclone v\d+\.\d+", log, re.M)
    assert re.search(rf"^{STAMP} INFO +backup: run ended after [\d.]+ s: ok \(exit 0\)$", log, re.M)
    stamped = [line for line in log.splitlines() if re.match(r"\d{4}-", line)]
    assert stamped and all(re.match(STAMP + " ", line) for line in stamped)
    summary = json.loads((copied.config_path.parent / "results" / "summary.json").read_text())
    assert re.fullmatch(STAMP, summary["started"]) and re.fullmatch(STAMP, copied.result("backup:docs")["started"])


def test_a_failed_run_ends_its_log_with_why(site, tmp_path):
    (tmp_path / "nas").mkdir()
    site.write_config([entry("gone", tmp_path / "unplugged", tmp_path / "nas")])
    site.doit("dry_run=1")
    log = site.log_file.read_text()
    assert "; DRY RUN, nothing is copied or deleted" in log
    assert re.search(r"run ended after [\d.]+ s: failed \(exit 1\): notify: failed: .*check_mounts:gone", log)


def test_an_unexpected_error_names_the_backup_once_in_the_log_and_the_alert(tmp_path):
    job = make_job(tmp_path, tmp_path, tmp_path)
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(f"{record.name}: {record.getMessage()}")
    job.log.addHandler(handler)
    try:
        from tasks.job import perform
        perform(job, lambda job: {}["boom"])
    finally:
        job.log.removeHandler(handler)
    assert seen == ["backup.b: test: stopped by an unexpected error"]
    assert job.result.alerts[0].message == "stopped by an unexpected error (KeyError); see the log"


@pytest.mark.parametrize("day", ["yesterday", "2026-1-5", "20261105"])
def test_a_date_in_another_format_says_which_format_and_which_dates_exist(copied, day):
    run = copied.doit("run", "verify:docs", f"date={day}")
    assert run.returncode == 1
    today = datetime.date.today().isoformat()
    assert f"date={day} is not a date: give it as YYYY-MM-DD" in run.stdout
    assert f"complete folders of docs: {today}" in run.stdout


def test_a_date_without_a_folder_names_the_dates_that_exist(copied):
    run = copied.doit("run", "restore:docs", "date=2020-01-01", "target=/nonexistent-never-written")
    assert run.returncode == 1
    today = datetime.date.today().isoformat()
    assert f"docs_2020-01-01 at {copied.config_path.parent.parent / 'nas'} does not exist" in run.stdout
    assert f"complete folders of docs: {today}" in run.stdout


@pytest.mark.parametrize("shell_pwd", ["same", "stale", "unset"])
def test_a_relative_restore_target_is_below_the_callers_folder(copied, tmp_path, shell_pwd):
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PWD"}
    if shell_pwd != "unset":
        env["PWD"] = str(caller if shell_pwd == "same" else tmp_path)  # a stale $PWD is not trusted
    run = subprocess.run(copied.doit_command("run", "restore:docs", "target=restored"), cwd=caller, env=env,
                         capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (caller / "restored" / "sub" / "b.txt").read_text() == "beta"
    assert f"into {caller / 'restored'}" in run.stdout
    assert not (PROJECT / "restored").exists() and not (tmp_path / "restored").exists()


def test_a_drill_says_on_stdout_what_it_checked(copied):
    run = copied.doit("run", "drill:docs")
    assert run.returncode == 0, run.stdout + run.stderr
    folder = f"docs_{datetime.date.today().isoformat()}"
    assert f"drill:docs: restore drill: 2 files (9 B) of {folder} downloaded and matched SHA256SUMS" in run.stdout


def test_a_drill_in_a_full_run_is_an_info_alert_of_the_backups_result(copied):
    config = copied.config_path.read_text().replace("name: docs", "name: docs\n  drill_every_days: 1")
    copied.config_path.write_text(config)
    run = copied.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    (drill,) = [alert for alert in copied.result("backup:docs")["alerts"] if "restore drill" in alert["message"]]
    assert drill["level"] == "INFO" and "2 files (9 B)" in drill["message"]
    summary = json.loads((copied.config_path.parent / "results" / "summary.json").read_text())
    assert any("restore drill: 2 files" in alert["message"] for alert in summary["alerts"])
