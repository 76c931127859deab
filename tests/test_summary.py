"""The run's verdict from result records: pure, so every combination is cheap to check."""

from tasks import render, summary
from tasks.results import Result

TASKS = ["check_mounts:a", "check_mounts:b", "backup:a", "backup:b"]


def results(**statuses) -> dict:
    found = {}
    for task in TASKS:
        status = statuses.get(task.replace(":", "_"), "ok")
        if status is None:
            found[task] = None
            continue
        record = Result(task=task, backup=task.split(":")[1], run_id="r", files=3, bytes=2048,
                        destination=f"remote:{task}", newest_file="2026-11-21")
        if status == "warning":
            record.alert("WARNING", f"{task} warns")
        elif status == "failed":
            record.alert("ERROR", f"{task} broke")
        elif status == "skipped":
            record.escalate("skipped", f"{task} skipped")
        found[task] = record
    return found


def build(**statuses) -> summary.Summary:
    return summary.build(TASKS, results(**statuses), "srv03", "2026-11-22 05:00", dry_run=False)


def test_all_ok():
    report = build()
    assert report.state == "ok" and report.ok_count == 2
    assert report.title == "[backup OK] srv03: 2 of 2 backups ok"


def test_a_warning_does_not_fail_the_run():
    report = build(backup_b="warning")
    assert report.state == "warning" and report.ok_count == 2
    assert "WARNING  backup:b: backup:b warns" in render.text(report)


def test_failed_check_or_skipped_backup_fails_the_run():
    report = build(check_mounts_b="failed", backup_b="skipped")
    assert report.state == "failed" and report.title == "[backup FAILED] srv03: 1 of 2 backups ok"
    text = render.text(report)
    assert "SKIPPED  b: would have copied 3 files, 2.0 KiB; backup:b skipped" in text
    assert "ERROR    check_mounts:b: check_mounts:b broke" in text


def test_a_missing_result_is_a_failure_not_a_success():
    report = build(backup_a=None)
    assert report.state == "failed" and report.ok_count == 1
    assert "backup:a left no result in this run" in render.text(report)


def test_alerts_are_ordered_most_severe_first():
    found = results(backup_a="warning")
    found["backup:b"].alert("CRITICAL", "disk full")
    report = summary.build(TASKS, found, "h", "t", dry_run=False)
    assert [a.level for a in report.alerts] == ["CRITICAL", "WARNING"]


def test_ok_line_shows_files_size_newest_date_destination_and_pruned():
    found = results()
    found["backup:a"].pruned = ["a_2026-11-01"]
    text = render.text(summary.build(TASKS, found, "h", "t", dry_run=False))
    assert "OK       a: 3 files, 2.0 KiB, newest 2026-11-21 -> remote:backup:a; pruned a_2026-11-01" in text


def test_dry_run_says_so():
    report = summary.build(TASKS, results(), "h", "t", dry_run=True)
    assert report.title.startswith("[backup dry run OK]")


def test_format_bytes():
    assert [summary.format_bytes(n) for n in (0, 1023, 1024, 5 * 1024 ** 3, 3 * 1024 ** 4)] == \
        ["0 B", "1023 B", "1.0 KiB", "5.0 GiB", "3.0 TiB"]


def test_format_duration():
    assert [summary.format_duration(s) for s in (0.25, 59.9, 200, 3 * 3600 + 120)] == \
        ["0.2 s", "59.9 s", "3 min 20 s", "3 h 2 min"]


#: What a file may be named: an escape sequence that retitles the terminal and clears it, a tab, a line break that
#: would forge a line, a C1 CSI, a Unicode line separator, and a byte of a non-UTF-8 name (carried as a surrogate).
EVIL = "\x1b]0;owned\x07\x1b[2J\tx\n  OK       a: fine\x9b\u2028\udcff.txt"
RAW_CONTROLS = ["\x1b", "\x07", "\t", "\x9b", "\u2028", "\udcff"]


def evil_summary() -> summary.Summary:
    found = results()
    found["backup:a"].destination = f"remote:{EVIL}"
    found["backup:a"].pruned = [EVIL]
    found["backup:b"].alert("CRITICAL", f"cannot read {EVIL}")
    found["check_mounts:a"].alert("ERROR", f"source {EVIL} is empty")
    return summary.build(TASKS, found, "srv03", "2026-11-22 05:00", dry_run=False)


def test_control_characters_of_names_are_shown_as_escapes_in_every_rendering():
    """A file named with an escape sequence must not rewrite the terminal of the admin reading the cron mail, the
    chat or the phone, nor a line break in it forge a summary line."""
    report = evil_summary()
    shown = {"text": render.text(report), "html": render.html_page(report), "critical": render.critical(report)}
    for where, text in shown.items():
        for character in RAW_CONTROLS:
            assert character not in text, (where, character)
        assert "\\x1b]0;owned\\x07\\x1b[2J\\tx\\n  OK       a: fine\\x9b\\u2028\\xff.txt" in text, where
    assert "\n  OK       a: fine" not in shown["text"]  # no forged line
    assert shown["critical"].splitlines()[0] == "CRITICAL backup:b: cannot read \\x1b]0;owned\\x07\\x1b[2J\\tx" \
                                                "\\n  OK       a: fine\\x9b\\u2028\\xff.txt"


def test_printable_escapes_every_c0_and_c1_control_and_the_unicode_line_separators():
    controls = [chr(code) for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]]
    for character in controls:
        shown = render.printable(f"a{character}b")
        assert shown.startswith("a\\") and shown.endswith("b") and character not in shown, repr(character)
    assert render.printable("\x1b\t\n\r\x85\u2029") == "\\x1b\\t\\n\\r\\x85\\u2029"
    kept = "plain ünïcødé €, a\\back slash, 🙂"
    assert render.printable(kept) == kept
    assert render.printable(render.printable(EVIL)) == render.printable(EVIL)  # text and log may both apply it
