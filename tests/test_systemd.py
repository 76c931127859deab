"""The systemd units in contrib/systemd: systemd itself finds nothing wrong with them, and they do what an
administrator relies on (the full job as cron runs it, daily at 05:00, a missed run caught up, a failed backup
shown as a failed unit, state and log writable under the hardening)."""

import re
import shlex
import shutil
import subprocess

import pytest

from tasks import config, schema
from tests.conftest import PROJECT

UNITS = PROJECT / "contrib" / "systemd"
SERVICE = UNITS / "offsite-backup.service"
TIMER = UNITS / "offsite-backup.timer"
#: Where the units expect the project, as in the README's install and cron lines.
INSTALL = "/opt/offsite-backup"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (package systemd)")


def directives(path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values, in order]}}; systemd allows a key more than once."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: continuation lines are not expected here"
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None and "=" in line, f"{path.name}:{number}: not a directive: {line}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def single(sections, section: str, key: str) -> str:
    values = sections.get(section, {}).get(key, [])
    assert len(values) == 1, f"[{section}] {key}= should be set exactly once, found {values}"
    return values[0]


def seconds(span: str) -> float:
    """A systemd time span such as `24h`, `1h 30min`, `90s` in seconds."""
    units = {"d": 86400, "h": 3600, "min": 60, "m": 60, "s": 1, "": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s|)\b", span)
    assert parts and re.fullmatch(r"(\s*\d+(\.\d+)?\s*(d|h|min|m|s)?)+\s*", span), f"unexpected time span {span!r}"
    return sum(float(amount) * units[unit] for amount, unit in parts)


@pytest.fixture
def installed(tmp_path):
    """The two units as installed in this checkout: the placeholder replaced by the real project folder, so the
    ExecStart program and the folders they name exist (verify checks that the program is executable)."""
    copies = []
    for unit in (SERVICE, TIMER):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text(encoding="utf-8").replace(INSTALL, str(PROJECT)), encoding="utf-8")
        copies.append(copy)
    return copies


@needs_analyze
def test_systemd_analyze_verify_finds_nothing(installed, tmp_path):
    # verify exits 0 on many problems (an unknown key, a bad value "ignoring"), so any line about our units fails
    done = subprocess.run([ANALYZE, "verify", "--man=no", *map(str, installed)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    output = (done.stdout + done.stderr).splitlines()
    about_ours = [line for line in output if "offsite-backup" in line or str(tmp_path) in line]
    assert done.returncode == 0 and not about_ours, "systemd-analyze verify:\n" + "\n".join(output)


def test_the_placeholder_is_the_readme_install_path_and_used_throughout():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert f"git clone <this repository> {INSTALL}" in readme and f"cd {INSTALL} && .venv/bin/doit -f dodo.py" in readme
    for unit in (SERVICE, TIMER):
        text = unit.read_text(encoding="utf-8")
        other_opt = {path for path in re.findall(r"/opt/[\w.-]+", text) if path != INSTALL}
        assert not other_opt, f"{unit.name} names another install path: {other_opt}"


def test_the_service_runs_the_full_job_as_cron_does_and_fails_when_a_backup_fails():
    service = directives(SERVICE)
    assert single(service, "Service", "Type") == "oneshot"
    assert single(service, "Service", "WorkingDirectory") == INSTALL
    # the cron line's command, default config (var/config.yaml): its exit code (1 when a backup failed) is the unit's
    assert shlex.split(single(service, "Service", "ExecStart")) == [f"{INSTALL}/.venv/bin/doit", "-f",
                                                                      f"{INSTALL}/dodo.py"]
    assert config.DEFAULT_CONFIG == PROJECT / "var" / "config.yaml"
    assert "SuccessExitStatus" not in service["Service"], "a failed backup (exit 1) must leave the unit failed"
    assert "RemainAfterExit" not in service["Service"]
    # the tool's own run_timeout_hours must stop a run first; systemd's oneshot default (90 s) would kill any run
    timeout = seconds(single(service, "Service", "TimeoutStartSec"))
    assert timeout > schema.SCHEMA["run_timeout_hours"]["default"] * 3600
    assert single(service, "Unit", "After") == single(service, "Unit", "Wants") == "network-online.target"


def test_the_hardening_keeps_state_log_and_uploads_working():
    service = directives(SERVICE)["Service"]
    expected = {
        "ProtectSystem": "strict", "ProtectHome": "read-only", "PrivateTmp": "true", "NoNewPrivileges": "true",
        "ProtectKernelTunables": "true", "ProtectKernelModules": "true", "ProtectControlGroups": "true",
        "RestrictSUIDSGID": "true", "LockPersonality": "true", "RestrictRealtime": "true",
        "SystemCallArchitectures": "native", "UMask": "0077", "Nice": "10", "IOSchedulingClass": "idle",
    }
    assert {key: service.get(key) for key in expected} == {key: [value] for key, value in expected.items()}
    assert "PrivateNetwork" not in service, "the copies go to a remote"
    assert "LoadCredential" not in service and "Environment" not in service
    writable = " ".join(service["ReadWritePaths"]).split()
    # the run state lives beside the default config, the log in log/ (schema default)
    state_dir = config.DEFAULT_CONFIG.parent.relative_to(PROJECT)
    log_dir = (PROJECT / schema.SCHEMA["log_file"]["default"]).parent.relative_to(PROJECT)
    assert f"{INSTALL}/{state_dir}" in writable and f"{INSTALL}/{log_dir}" in writable
    # rclone rewrites its config (root's, HOME=/root from User=root) when it refreshes an OAuth token
    assert single(directives(SERVICE), "Service", "User") == "root" and "-/root/.config/rclone" in writable


def test_the_timer_starts_the_service_daily_at_five_and_catches_up_after_downtime():
    timer = directives(TIMER)
    assert single(timer, "Timer", "OnCalendar") == "*-*-* 05:00:00"
    assert single(timer, "Timer", "Persistent") == "true"
    assert single(timer, "Timer", "AccuracySec") == "1min"
    assert 0 < seconds(single(timer, "Timer", "RandomizedDelaySec")) <= 3600
    assert timer["Timer"].get("Unit", [SERVICE.name]) == [SERVICE.name]
    assert single(timer, "Install", "WantedBy") == "timers.target"


@needs_analyze
def test_systemd_reads_the_calendar_as_every_day_at_five():
    spec = single(directives(TIMER), "Timer", "OnCalendar")
    done = subprocess.run([ANALYZE, "calendar", "--iterations=3", "--base-time=2026-03-01 06:00:00 UTC", spec],
                          capture_output=True, text=True, timeout=60, env={"TZ": "UTC", "LC_ALL": "C"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Normalized form: *-*-* 05:00:00" in done.stdout
    elapses = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+) UTC", done.stdout)
    assert elapses == ["2026-03-02 05:00:00", "2026-03-03 05:00:00", "2026-03-04 05:00:00"], done.stdout


def test_a_state_folder_the_hardening_left_read_only_is_named_not_a_traceback(site, tmp_path):
    """A forgotten ReadWritePaths= (or any read-only mount) under the config's folder: doit's own database could
    not be opened and the run ended in a traceback."""
    (tmp_path / "usb").mkdir()
    (tmp_path / "usb" / "a.txt").write_text("a")
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(tmp_path)}])
    state = site.config_path.parent
    script = (f"mount --bind {shlex.quote(str(state))} {shlex.quote(str(state))} && "
              f"mount -o remount,bind,ro {shlex.quote(str(state))} && exec {shlex.join(site.doit_command())}")
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if "mount" in run.stderr and "Traceback" not in run.stderr and run.returncode not in (0, 2):
        pytest.skip(f"no private read-only mount here: {run.stderr.strip()[:200]}")
    assert "Traceback" not in run.stdout + run.stderr
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"cannot open the lock file {state}/run.lock: Read-only file system" in run.stdout + run.stderr
