"""Alerts as the operator reads them: each with its time, level, backup, message, metrics and what to do, in every
rendering; honest words for what was (not) copied; the mail as a person sees it in a browser."""

import html.parser
import re
import shutil
import subprocess

import pytest

from tasks import clock, remedies, render, summary
from tasks.results import Result

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")
MISSING = "source folder '/mnt/usb9/ghost' does not exist: disk not mounted or path moved?"
TASKS = ["check_mounts:ghost", "check_mounts:web1", "backup:ghost", "backup:web1"]


def result(task: str, **fields) -> Result:
    return Result(task=task, backup=task.split(":")[1], run_id="r", **fields)


def run_with_one_failed_and_one_good(dry_run: bool = False) -> summary.Summary:
    """What a run leaves when the source of `ghost` is not mounted and `web1` copies three files."""
    check = result("check_mounts:ghost")
    check.alert("CRITICAL", MISSING)
    skipped = result("backup:ghost", destination="/dest/ghost_2026-11-22")
    skipped.alert("INFO", f"skipped because check_mounts:ghost failed: {MISSING}. Nothing copied, nothing pruned.")
    skipped.escalate("skipped", skipped.alerts[0].message)
    good = result("backup:web1", files=3, bytes=22, newest_file="2026-11-22", destination="/dest/web1_2026-11-22",
                  metrics={"copied": 3, "identical": 0})
    found = {"check_mounts:ghost": check, "check_mounts:web1": result("check_mounts:web1"),
             "backup:ghost": skipped, "backup:web1": good}
    return summary.build(TASKS, found, "srv03", clock.stamp(), dry_run=dry_run)


def renderings(report: summary.Summary) -> dict[str, str]:
    return {"text": render.text(report), "html": render.html_page(report), "critical": render.critical(report)}


def one_backup(status_alert: tuple[str, str, dict] | None = None, **fields) -> summary.Summary:
    record = result("backup:web1", destination="/dest/web1_2026-11-22", **fields)
    if status_alert:
        level, message, metrics = status_alert
        record.alert(level, message, **metrics)
    return summary.build(["backup:web1"], {"backup:web1": record}, "srv03", clock.stamp(), dry_run=False)


# 1. time, level, backup, message and metrics in every rendering

def test_results_and_alerts_are_stamped_in_the_one_format_with_seconds():
    record = result("backup:web1")
    record.alert("ERROR", "broke")
    assert STAMP.fullmatch(record.started) and STAMP.fullmatch(record.alerts[0].time)


def test_every_rendering_shows_each_alert_with_time_level_backup_and_message():
    report = run_with_one_failed_and_one_good()
    alert = next(alert for alert in report.alerts if alert.level == "CRITICAL")
    for where, shown in renderings(report).items():
        for piece in (alert.time, "CRITICAL", "ghost", "does not exist: disk not mounted or path moved?"):
            assert piece in shown, (where, piece)


def test_free_space_alert_shows_free_space_and_the_limit_everywhere():
    check = result("check_space:web1", metrics={"free_bytes": 5 * 1024 ** 3})
    check.alert("CRITICAL", "only 5.0 GiB free on /dest, below min_free_gb 200: backup web1 is skipped",
                free_bytes=5 * 1024 ** 3, min_free_bytes=200 * 1024 ** 3)
    report = summary.build(["check_space:web1"], {"check_space:web1": check}, "h", clock.stamp(), dry_run=False)
    for where, shown in renderings(report).items():
        assert "5.0 GiB free, min_free_gb asks 200.0 GiB" in shown, where
        assert "What to do: free space or raise the quota" in shown.replace("<b>What to do:</b>", "What to do:") \
            or "free space or raise the quota" in shown, where


def test_alert_carries_the_newest_file_and_its_age_in_days():
    report = one_backup(("WARNING", "left alone, dated in the future or not a real date: web1_2099-01-01", {}),
                        files=3, bytes=22, newest_file="2000-01-01", metrics={"copied": 3, "identical": 0})
    age = (summary.datetime.date.fromisoformat(report.alerts[0].time[:10])
           - summary.datetime.date(2000, 1, 1)).days
    assert f"newest file 2000-01-01 ({age} days old)" in render.text(report)
    assert f"newest file 2000-01-01 ({age} days old)" in render.html_page(report)


# 1. what was copied, in honest words

def test_refused_backup_says_what_it_would_have_copied_and_the_limit_crossed():
    report = one_backup(("ERROR", "3 files totalling 22 B exceed max_size_mb 0.00001. Nothing copied, nothing "
                                  "pruned.", {"bytes": 22, "max_bytes": 10}), files=3, bytes=22)
    text = render.text(report)
    assert "FAILED   web1: would have copied 3 files, 22 B; 3 files totalling 22 B exceed" in text
    assert "limit max_size_mb: 10 B" in text
    assert "would have copied 3 files, 22 B" in render.html_page(report)
    assert not re.search(r"\b0 (files|B)\b", text)


def test_skipped_backup_is_never_shown_as_an_empty_copy():
    report = run_with_one_failed_and_one_good()
    page = render.html_page(report)
    ghost_row = next(row for row in page.split("<tr>") if "<b>ghost</b>" in row)
    assert "0 B" not in ghost_row and "0 files" not in ghost_row and "/dest/ghost" not in ghost_row
    assert "skipped because check_mounts:ghost failed" in ghost_row


def test_dry_run_says_would_copy_and_a_rerun_says_how_many_were_unchanged():
    dry = summary.build(["backup:web1"], {"backup:web1": result("backup:web1", files=3, bytes=22, dry_run=True,
                                                                newest_file="2026-11-22", destination="/d")},
                        "h", clock.stamp(), dry_run=True)
    assert "OK       web1: would copy 3 files (22 B), newest 2026-11-22 -> /d" in render.text(dry)
    rerun = one_backup(files=3, bytes=22, newest_file="2026-11-22", metrics={"copied": 0, "identical": 3})
    assert "OK       web1: 0 copied, 3 unchanged (22 B)" in render.text(rerun)
    assert "0 copied, 3 unchanged (22 B)" in render.html_page(rerun)


def test_a_copy_made_on_the_server_says_what_crossed_the_network():
    day_two = one_backup(files=3, bytes=3 * 1024 ** 2, newest_file="2026-11-22",
                         metrics={"copied": 3, "identical": 0, "uploaded_bytes": 1024 ** 2,
                                  "server_side_bytes": 2 * 1024 ** 2})
    words = "3 files, 3.0 MiB: 1.0 MiB uploaded, 2.0 MiB copied on the server"
    assert f"OK       web1: {words}, newest 2026-11-22" in render.text(day_two)
    assert words in render.html_page(day_two)
    uploaded_only = one_backup(files=3, bytes=22, newest_file="2026-11-22",
                               metrics={"copied": 3, "identical": 0, "uploaded_bytes": 22, "server_side_bytes": 0})
    assert "on the server" not in render.text(uploaded_only)


# 2. what to do, from the one table

#: A real message of each case the table recognises, as the tool words it.
MESSAGES = {
    "source folder missing (disk unplugged, path moved)": MISSING,
    "mount point present but empty": "source folder '/mnt/usb2' is empty: the disk is probably not mounted",
    "source hangs (dead Samba/NFS server)": "source folder /mnt/smb did not answer within 60 s: hung network mount?",
    "files vanish, shrink or grow during the copy": "rclone accounted for 2 of the 3 selected files (copied 2)",
    "a source file is unreadable (permissions)": "1 entries in /src could not be copied: a.txt: permission denied",
    "destination server down": "destination check failed: the server cannot be reached (down, or no network?)",
    "free space below `min_free_gb`": "only 1.0 GiB free on /d, below min_free_gb 200: backup x is skipped",
    "destination fills up during the upload": "copy to /d/x failed: the destination is full (rclone exit 1)",
    "wrong password / keys": "destination check failed: cannot list offsite:: login refused: check this remote",
    "expired OAuth token": "copy to od:x failed: the remote's login token has expired or was revoked; renew it",
    "server dies mid-upload": "copy to sftp:x failed (rclone exit 1, 2 errors): connection reset",
    "rclone config or its folder read-only": "rclone config /r.conf or its folder is not writable by user u: "
                                             "refreshed login tokens cannot be saved",
    "rclone missing": "rclone is missing or broken: /nope not found. Run the setup again or set rclone.binary.",
    "rclone too old (< 1.65.1)": "rclone v1.60.1 is older than 1.65.1 and has known upload bugs; use .venv",
    "rclone remote not defined": "rclone remote 'nosuch' is not defined in /r.conf (defined: offsite)",
    "selection larger than `max_size_mb` or `max_files`": "3 files totalling 2 MiB exceed max_size_mb 1",
    "no file newer than `days`": "nothing newer than 2 days in /src; newest file is from 2026-11-01",
    "a file of the newest sealed folder rotted or was changed at the destination":
        "1 files copied on the server from web_2026-11-21 did not match the source and were uploaded again: a.bin",
    "the state folder (the config's folder) is read-only, e.g. missing from systemd's ReadWritePaths=":
        "cannot open the lock file /opt/offsite-backup/var/run.lock: Read-only file system; this run did nothing",
    "two hosts write the same backup (or archive) to one rclone_path":
        "offsite:b is also written by host srv02 (web.host-srv02 there): two hosts writing backup web to one "
        "rclone_path would prune or overwrite each other's copies",
    "an archived copy does not match its sha256 (a failed upload, a rotted file)":
        "1 uploaded files did not match their sha256 at box1:archive and are not archived: a.jpg",
    "archived source files cannot be deleted (read-only mount)":
        "source folder /mnt/in is read-only, so the 3 archived files stay there (delete_source_after_archive needs a "
        "writable mount); the archive itself is complete",
    "a destination of an archive failed": "no source file deleted: the archive at box2:archive was not proven in "
                                          "this run",
    "a database server that refuses the dump user or does not answer":
        "the database server at /run/mysqld/mysqld.sock: ERROR 1045 (28000): Access denied for user 'backup'",
    "a database that is gone, or a dump that fails":
        "the dump of database shop failed: Got error: 1049: \"Unknown database 'shop'\" when selecting the database",
    "no restic repository at the destination": "no restic repository at rclone:box:restic: create it (`restic init`",
    "wrong restic password": "restic repository /srv/repo: wrong password or no key found",
    "restic check finds damage": "restic check of /srv/repo found a problem: Fatal: repository contains errors",
    "a remote that claims server-side copy but uploads instead, or fails it":
        "offsite: offers server-side copy but it uploaded all 3 unchanged files instead; this run uploads every file",
}


@pytest.mark.parametrize("case", MESSAGES)
def test_each_known_cause_is_recognised_by_its_own_row(case):
    assert remedies.for_message(MESSAGES[case]).case == case


def test_every_rendering_says_what_to_do_about_a_known_cause():
    report = run_with_one_failed_and_one_good()
    for where, shown in renderings(report).items():
        assert "mount the disk, or fix" in shown and "source_dir" in shown, where
        assert "What to do" in shown, where


def test_an_unknown_cause_gets_no_advice():
    report = one_backup(("ERROR", "something nobody foresaw", {}))
    assert "What to do" not in render.text(report) and remedies.advice("something nobody foresaw") == ""


# 3. the mail

def test_mail_is_a_whole_utf8_document_with_what_failed_and_what_to_do_on_top():
    page = render.html_page(run_with_one_failed_and_one_good())
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page and page.endswith("</html>")
    top = page[page.index("</h2>"):page.index("Run started")]
    assert "Not backed up: ghost" in top and "What to do:" in top and "mount the disk" in top


def test_mail_lists_only_failed_checks_and_gives_each_reason_once():
    page = render.html_page(run_with_one_failed_and_one_good())
    checks = page[page.index("Checks that did not pass"):page.index("<h3>Alerts")]
    assert "check_mounts:ghost" in checks and "check_mounts:web1" not in checks
    body = page[page.index("Run started"):]  # the headline names the worst problem once more, by design
    assert body.count("does not exist: disk not mounted") == 1


def test_mail_colours_levels_and_escapes_markup_in_names():
    report = one_backup(("CRITICAL", "cannot read <script>alert(1)</script>\x1b[2J", {}))
    page = render.html_page(report)
    assert "<script>" not in page and "&lt;script&gt;" in page and "\x1b" not in page
    assert re.search(r'<span style="background:#[0-9a-f]{6};[^"]*">CRITICAL</span>', page)


# 4. as a person sees it

class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def test_mail_rendered_by_chromium_shows_the_failed_backup_its_level_and_what_to_do(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (scripts/test.sh installs it as root with apt-get)")
    mail = tmp_path / "mail.html"
    mail.write_text(render.html_page(run_with_one_failed_and_one_good()), encoding="utf-8")
    rendered = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                               mail.as_uri()], capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    reader = _Text()
    reader.feed(rendered.stdout)
    text = " ".join(" ".join(reader.parts).split())
    for piece in ("Not backed up: ghost.", "CRITICAL", "What to do: mount the disk, or fix source_dir",
                  "web1", "3 files, 22 B"):
        assert piece in text, piece


def test_a_backup_skipped_for_its_destination_says_what_it_would_have_copied(site, tmp_path):
    """Through the doit CLI: the source is fine, the destination disk is not mounted."""
    from tests.conftest import make_files

    make_files(tmp_path / "usb", {"a.txt": "alpha", "sub/b.txt": "beta"})
    site.write_config([{"name": "docs", "source_dir": str(tmp_path / "usb"),
                        "rclone_path": str(tmp_path / "unmounted-nas")}])
    run = site.doit()
    assert run.returncode == 1
    line = next(line for line in run.stdout.splitlines() if line.lstrip().startswith("SKIPPED"))
    assert "would have copied 2 files, 9 B" in line and "check_rclone:docs failed" in line
    assert not (tmp_path / "unmounted-nas").exists()
