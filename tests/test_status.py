"""`doit status`, the stale alarm of every full run, the status page and `doit log`, end to end through the real doit
CLI, real rclone, `rclone serve sftp` on 127.0.0.1 and headless Chromium. Earlier days are faked by dated folders
made on disk (a local destination, or the folder the sftp server serves); a run's own folder is today's.

What is proven:
- `doit status` over a local and an sftp destination of one backup, each holding complete, incomplete (no
  SHA256SUMS), future-dated and foreign folders: one row per destination with the newest complete copy and its age,
  the complete and incomplete counts of this backup's dated folders only, the state and the last run; exit 0 when
  every row is OK; `name=web` lists exactly this backup's dated folders (files, size, sealed or INCOMPLETE) and marks
  exactly those tasks.retention.plan deletes (each destination with its own retention); `format=json` says the
  same; an unknown name fails, naming the usable ones;
- a backup failing three days running is STALE (not merely FAILING) in `doit status`, which exits 1; a full run
  raises CRITICAL "newest complete offsite copy of web at ... is 3 days old (max_age_days 2)" (and "... is missing:
  there is none yet" for a backup that never had a copy), kept in results/status.json, exits 1, prints "No recent
  complete copy: ..." as the summary's second line and puts it in the mail; a backup that is fine is not named;
  once the run works again the rows are OK, the alarm and the line are gone and the run exits 0;
- a hung sftp server (its process stopped) costs `doit status` one check_timeout_seconds: a FAILING row whose note
  names the timeout, the local destination's row still right; once the server answers again every row is OK;
- the status page of a full run (and `doit status format=html out=RELATIVE`, written below the caller's folder) is
  self-contained (no script, no outside resource) and, rendered by Chromium, shows every row, state and last run,
  per backup and destination a chart of 28 days, one bar per day whose title tells a sealed, an incomplete and a
  missing day with the right size and number of files, and the backup's log lines of that run; the page of
  `format=html` shows the last run's alerts;
- `doit status` answers while a full run holds the lock (the run still going when it answered), and the run then
  ends normally with a sealed copy;
- `doit log` with an unknown or no name fails, naming the backups;
- `status_page:` (a local path or an rclone remote) gets a copy of the page a full run writes.

The next good run's pruning is what `name=NAME` marks (today's folder counted in, as a run counts it), the chart
ends today (the days a stale backup missed show as gaps), and a full run's page shows that run's own alerts.

`rclone serve sftp` caches the listings it served: a test that makes folders below its root after a run listed
them restarts it.

The screenshot docs/status-page.png is made by test_the_status_page_... when STATUS_PAGE_SCREENSHOT=1.
"""

import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tasks import config, retention
from tasks.summary import format_bytes
from tests.conftest import PROJECT, listing, make_dated_folder, make_files, sealed_listing

FILES = {"index.html": "<h1>hello</h1>\n", "img/logo.svg": "<svg/>" * 40, "data/notes.txt": "n" * 700}
EXPECTED = {name: content.encode() for name, content in FILES.items()}
HEADER = ("BACKUP", "DESTINATION", "STATE", "NEWEST COPY", "COMPLETE", "INCOMPLETE", "SIZE", "FREE", "LAST RUN",
          "LAST VERIFY", "LAST DRILL")
DELETED = "deleted by the next good run"
SCREENSHOT = PROJECT / "docs" / "status-page.png"


def day(back: int = 0) -> datetime.date:
    """The local date `back` days ago (negative: in the future), read at each use."""
    return datetime.date.today() - datetime.timedelta(days=back)


def dated(name: str, back: int = 0) -> str:
    return retention.folder_name(name, day(back))


def plant(folder: Path, size: int, sealed: bool = True, files: int = 1) -> Path:
    """A dated folder an earlier run left: `files` files of `size` bytes in all, with a SHA256SUMS unless that run
    was interrupted."""
    folder.mkdir(parents=True)
    sums = []
    for number in range(files):
        content = bytes([65 + number]) * (size // files + (size % files if number == 0 else 0))
        (folder / f"part{number}.bin").write_bytes(content)
        sums.append(f"{hashlib.sha256(content).hexdigest()}  part{number}.bin\n")
    if sealed:
        (folder / "SHA256SUMS").write_text("".join(sums))
    return folder


def content_of(folder: Path) -> tuple[int, int]:
    """Files and bytes of a dated folder, its SHA256SUMS (and .hmac) not counted."""
    files = {name: data for name, data in listing(folder).items() if name not in ("SHA256SUMS", "SHA256SUMS.hmac")}
    return len(files), sum(len(data) for data in files.values())


def table(stdout: str) -> tuple[list[dict], list[str]]:
    """The rows of `doit status` (by column name) and the note lines under them."""
    lines = stdout.splitlines()
    at = next(number for number, line in enumerate(lines) if line.startswith("BACKUP  "))
    starts = [lines[at].index(name) for name in HEADER]
    rows, notes = [], []
    for line in lines[at + 1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
        if cells[2] in ("OK", "STALE", "FAILING", "NEVER") and line[starts[1] - 2:starts[1]] == "  ":
            rows.append(dict(zip(HEADER, cells, strict=True)))
        elif line.strip() and not line.startswith("not OK: "):
            notes.append(line)
    return rows, notes


def row_at(rows: list[dict], backup: str, where) -> dict:
    (found,) = [row for row in rows if row["BACKUP"] == backup and row["DESTINATION"] == str(where)]
    return found


FOLDER_LINE = re.compile(r"  (\d{4}-\d\d-\d\d)  (\S+) +(\d+) files +(\S+ \S+)  (sealed|INCOMPLETE)(  " + DELETED
                         + ")?")
SECTION_LINE = re.compile(r"(\S+) at (.+): (OK|STALE|FAILING|NEVER)( \(.*\))?")


def folder_sections(stdout: str) -> dict[str, list[tuple]]:
    """`doit status name=NAME`: per destination, its folders as (day, name, files, size, sealed, deleted next)."""
    sections: dict[str, list[tuple]] = {}
    current = None
    for line in stdout.splitlines():
        if (heading := SECTION_LINE.fullmatch(line)) and not line.startswith("not OK"):
            current = sections.setdefault(heading[2], [])
        elif folder := FOLDER_LINE.fullmatch(line):
            current.append((folder[1], folder[2], int(folder[3]), folder[4], folder[5] == "sealed",
                            bool(folder[6])))
    return sections


def expected_folders(folder: Path, backup, names: list[str]) -> list[tuple]:
    """What `name=` must list for `names` (this backup's dated folders at `folder`): their files, size and seal
    read from the disk, and as deleted next exactly what tasks.retention.plan deletes of everything there."""
    everything = [path.name for path in folder.iterdir() if path.is_dir()]
    complete = {name for name in everything if (folder / name / "SHA256SUMS").is_file()}
    doomed = retention.plan(backup.name, everything, day(), backup.retention, complete).delete
    out = []
    for name in sorted(names):
        files, size = content_of(folder / name)
        out.append((name.rpartition("_")[2], name, files, format_bytes(size), name in complete, name in doomed))
    return out


def output(run: subprocess.CompletedProcess) -> str:
    """What a doit command printed, stdout and stderr."""
    return run.stdout + run.stderr


# --- 1. the table, one backup's folders, JSON -------------------------------------------------------------------

def test_status_rows_folders_and_json_over_a_local_and_an_sftp_destination(site, sftp, tmp_path):
    source, nas, at_sftp = tmp_path / "usb", tmp_path / "nas", sftp.root / "backups"
    make_files(source, FILES)
    nas.mkdir()
    site.write_config([{"name": "web", "source_dir": str(source), "retention": 3,
                        "destinations": [{"rclone_path": str(nas)},
                                         {"rclone_path": "offsite:backups", "retention": 1}]}],
                      rclone={"config": str(sftp.rclone_config)})
    run = site.doit()  # today's sealed folder at both; what an earlier day left is made below, after its pruning
    assert run.returncode == 0, output(run)
    assert sealed_listing(nas / dated("web")) == sealed_listing(at_sftp / dated("web")) == EXPECTED
    for back in (1, 3, 6):
        make_dated_folder(nas / dated("web", back))
    make_dated_folder(nas / dated("web", 2), sealed=False)
    for back in (2, 4):
        make_dated_folder(at_sftp / dated("web", back))
    make_dated_folder(at_sftp / dated("web", 1), sealed=False)
    for place in (nas, at_sftp):  # not this backup's dated folders: never listed, counted or deleted
        make_dated_folder(place / dated("web", -3))
        make_dated_folder(place / dated("other", 1))
        make_dated_folder(place / "web_latest", sealed=False)
    sftp.stop()  # `rclone serve` caches what it listed for the run: restarted, it lists what was made since
    sftp.start()
    ours = {nas: [dated("web", back) for back in (0, 1, 2, 3, 6)],
            at_sftp: [dated("web", back) for back in (0, 1, 2, 4)]}

    shown = site.doit("status")
    assert shown.returncode == 0, output(shown)
    rows, notes = table(shown.stdout)
    assert [(row["BACKUP"], row["DESTINATION"]) for row in rows] == [("web", str(nas)), ("web", "offsite:backups")]
    assert notes == []
    for row, complete, incomplete in ((rows[0], 4, 1), (rows[1], 3, 1)):
        assert row["STATE"] == "OK", row
        assert row["NEWEST COPY"] == f"{day()} (0 d)", row
        assert (row["COMPLETE"], row["INCOMPLETE"]) == (str(complete), str(incomplete)), row
        assert re.fullmatch(rf"{day()} \d\d:\d\d ok", row["LAST RUN"]), row
        assert (row["LAST VERIFY"], row["LAST DRILL"]) == ("never", "never"), row
        assert re.fullmatch(r"[\d.]+ (B|KiB|MiB|GiB|TiB)", row["FREE"]), row

    backups = config.load(site.config_path).backups[0]
    expected = {str(nas): expected_folders(nas, backups.at(0), ours[nas]),
                "offsite:backups": expected_folders(at_sftp, backups.at(1), ours[at_sftp])}
    # oldest first: retention 3 deletes the oldest only (the incomplete one lies within what it keeps); retention 1
    # deletes all but today's, the incomplete one too
    assert [(row[4], row[5]) for row in expected[str(nas)]] == [
        (True, True), (True, False), (False, False), (True, False), (True, False)]
    assert [(row[4], row[5]) for row in expected["offsite:backups"]] == [
        (True, True), (True, True), (False, True), (True, False)]
    folders = site.doit("status", "name=web")
    assert folders.returncode == 0, output(folders)
    assert folder_sections(folders.stdout) == expected, folders.stdout
    assert (f"web at {nas}: OK", "web at offsite:backups: OK") == tuple(
        line for line in folders.stdout.splitlines() if line.startswith("web at "))

    as_json = site.doit("status", "format=json")
    assert as_json.returncode == 0, output(as_json)
    data = json.loads(as_json.stdout)
    assert [(row["backup"], row["where"], row["state"], row["newest"], row["age_days"], row["complete"],
             row["incomplete"]) for row in data] == [("web", str(nas), "OK", day().isoformat(), 0, 4, 1),
                                                     ("web", "offsite:backups", "OK", day().isoformat(), 0, 3, 1)]
    for row in data:
        assert [(f["day"], f["name"], f["files"], format_bytes(f["bytes"]), f["sealed"], f["deleted_next"])
                for f in row["folders"]] == expected[row["where"]]
        assert row["last_run"] == "ok" and row["last_run_at"].startswith(day().isoformat())

    unknown = site.doit("status", "name=nope")
    assert unknown.returncode == 1
    assert f"name=nope is no usable backup of {site.config_path} (usable: web)" in output(unknown)


# --- 2. failing three days running: STALE, the CRITICAL alarm, the mail -----------------------------------------

def test_a_backup_failing_three_days_running_is_stale_alarmed_and_mailed_until_it_works_again(site, tmp_path,
                                                                                           httpserver):
    httpserver.expect_request("/v3/mail/send").respond_with_data("{}", status=202)
    nas = {name: tmp_path / f"nas-{name}" for name in ("web", "db", "new")}
    for folder in nas.values():
        folder.mkdir()
    for back in (3, 5):
        make_dated_folder(nas["web"] / dated("web", back))
    for back in (1, 2):  # what the failed runs left: no SHA256SUMS, no complete copy
        make_dated_folder(nas["web"] / dated("web", back), sealed=False)
    make_files(tmp_path / "db-data", {"dump.sql": "create table t;"})
    site.write_config([{"name": name, "source_dir": str(tmp_path / f"{name}-data"), "rclone_path": str(nas[name])}
                       for name in ("web", "db", "new")],
                      email=["admin@example.com"],
                      notifications={"attempts": 1, "sendgrid": {"from": "backup@example.com",
                                                                 "base_url": httpserver.url_for("").rstrip("/")}})
    mail_key = {"SENDGRID_API_KEY": "SG.planted-test-key"}

    before = site.doit("status")
    assert before.returncode == 1
    rows, _ = table(before.stdout)
    web = row_at(rows, "web", nas["web"])
    assert (web["STATE"], web["NEWEST COPY"], web["COMPLETE"], web["INCOMPLETE"]) == (
        "STALE", f"{day(3)} (3 d)", "2", "2")
    assert [row["STATE"] for row in rows] == ["STALE", "NEVER", "NEVER"]
    assert f"not OK: web at {nas['web']}: STALE; db at {nas['db']}: NEVER; new at {nas['new']}: NEVER" in output(before)

    run = site.doit(env=mail_key)
    assert run.returncode == 1, output(run)
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"[backup FAILED] {socket.gethostname()}: 1 of 3 backups ok (run started ")
    assert lines[1] == "No recent complete copy: new (never), web (3 d)"
    stale = f"newest complete offsite copy of web at {nas['web']} is 3 days old (max_age_days 2)"
    never = f"newest complete offsite copy of new at {nas['new']} is missing: there is none yet"
    for message in (stale, never):
        assert f"CRITICAL status: {message}" in run.stdout
    assert "copy of db" not in run.stdout
    alarm = site.result("status")
    assert alarm["status"] == "failed" and alarm["metrics"]["stale"] == ["new (never)", "web (3 d)"]
    assert sorted((alert["level"], alert["message"]) for alert in alarm["alerts"]) == [
        ("CRITICAL", never), ("CRITICAL", stale)]
    (mail,) = [request for request, _ in httpserver.log if request.path == "/v3/mail/send"]
    plain, page = (part["value"] for part in mail.get_json()["content"])
    assert "\nNo recent complete copy: new (never), web (3 d)\n" in plain
    assert "<b>No recent complete copy: new (never), web (3 d).</b>" in page

    after = site.doit("status")
    assert after.returncode == 1
    rows, _ = table(after.stdout)
    web = row_at(rows, "web", nas["web"])
    assert web["STATE"] == "STALE" and web["LAST RUN"].endswith(" skipped")  # stale outranks failing
    assert row_at(rows, "db", nas["db"])["STATE"] == "OK"

    for name in ("web", "new"):  # the next day: the sources are back
        make_files(tmp_path / f"{name}-data", {"page.html": f"{name} is back"})
    fixed = site.doit(env=mail_key)
    assert fixed.returncode == 0, output(fixed)
    assert "No recent complete copy" not in fixed.stdout and "offsite copy" not in fixed.stdout
    assert site.result("status")["alerts"] == [] and site.result("status")["metrics"]["stale"] == []
    last_mail = [request for request, _ in httpserver.log if request.path == "/v3/mail/send"][-1]
    assert "No recent complete copy" not in json.dumps(last_mail.get_json())
    now = site.doit("status")
    assert now.returncode == 0, output(now)
    rows, _ = table(now.stdout)
    assert [(row["BACKUP"], row["STATE"], row["NEWEST COPY"]) for row in rows] == [
        (name, "OK", f"{day()} (0 d)") for name in ("web", "db", "new")]


# --- 3. a hung remote -------------------------------------------------------------------------------------------

def test_a_hung_sftp_server_is_a_failing_row_within_the_check_timeout(site, sftp, tmp_path):
    nas = tmp_path / "nas"
    make_dated_folder(nas / dated("web", 1))
    make_dated_folder(sftp.root / "backups" / dated("web", 1))
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"),
                        "destinations": [{"rclone_path": str(nas)}, {"rclone_path": "offsite:backups"}]}],
                      check_timeout_seconds=3, rclone={"config": str(sftp.rclone_config)})
    os.kill(sftp.process.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        hung = site.doit("status", timeout=60)
        took = time.monotonic() - began
    finally:
        os.kill(sftp.process.pid, signal.SIGCONT)
    assert took < 15, f"doit status took {took:.1f} s with check_timeout_seconds 3"
    assert hung.returncode == 1
    assert "not OK: web at offsite:backups: FAILING" in output(hung)
    rows, notes = table(hung.stdout)
    local, remote = row_at(rows, "web", nas), row_at(rows, "web", "offsite:backups")
    assert (local["STATE"], local["NEWEST COPY"], local["COMPLETE"]) == ("OK", f"{day(1)} (1 d)", "1")
    assert (remote["STATE"], remote["NEWEST COPY"]) == ("FAILING", "never")
    (note,) = notes
    assert note.startswith("web at offsite:backups: ") and "no answer within 3 s" in note, note

    answered = site.doit("status")
    assert answered.returncode == 0, output(answered)
    rows, notes = table(answered.stdout)
    assert [(row["STATE"], row["NEWEST COPY"]) for row in rows] == [("OK", f"{day(1)} (1 d)")] * 2 and notes == []


# --- 4. the status page ---------------------------------------------------------------------------------------

class _Page(HTMLParser):
    """A rendered page: its text, the cells of its table rows, and per chart (by its heading) each bar's title."""

    def __init__(self):
        super().__init__()
        self.text, self.rows, self.charts = [], [], {}
        self._heading = self._chart = self._row = self._cell = self._title = None

    def handle_starttag(self, tag, attrs):
        if tag == "h3":
            self._heading = []
        elif tag == "svg":
            self._chart = self.charts.setdefault("".join(self._heading or []), [])
        elif tag == "rect" and self._chart is not None:
            self._chart.append(None)
        elif tag == "title" and self._chart is not None:
            self._title = []
        elif tag == "tr":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "h3":
            self._heading = "".join(self._heading)
        elif tag == "svg":
            self._chart = None
        elif tag == "title" and self._title is not None:
            self._chart[-1], self._title = "".join(self._title), None
        elif tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        for part in (self._title, self._cell, self._heading if isinstance(self._heading, list) else None):
            if part is not None:
                part.append(data)


def chromium(tmp_path: Path, page: Path, *how: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local file, with a fresh profile, kept off every network: no host name resolves and
    any request would go to a proxy on 127.0.0.1 where nothing listens."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (scripts/test.sh installs it as root with apt-get)")
    profile = tmp_path / f"chromium-{len(list(tmp_path.glob('chromium-*')))}"
    shown = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                            "--no-first-run", "--disable-background-networking", "--disable-component-update",
                            "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", *how,
                            page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    return shown


def rendered(tmp_path: Path, page: Path) -> _Page:
    reader = _Page()
    reader.feed(chromium(tmp_path, page, "--dump-dom").stdout)
    return reader


def assert_self_contained(html: str) -> None:
    """No script and nothing loaded from elsewhere: no tag names an outside resource (the SVG namespace is a name,
    not a resource) and the style loads nothing. Text may mention an address (rclone's log lines do)."""
    assert "<script" not in html.lower()  # text is escaped: this can only be a tag
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)
    assert tags and not [tag for tag in tags if re.match(r"<(link|img|iframe|object|embed|image|use|a)\b", tag, re.I)
                         or re.search(r"\b(src|href|srcset|action)\s*=", tag, re.I)
                         or "http" in tag.replace('xmlns="http://www.w3.org/2000/svg"', "")]
    style = "".join(re.findall(r"<style>(.*?)</style>", html, re.S))
    assert style and "url(" not in style and "@import" not in style


def chart_titles(folder: Path, name: str, last: datetime.date) -> list[str]:
    """The bar titles of the 28 days up to `last` of `name`'s dated folders in `folder`."""
    titles = []
    for back in range(27, -1, -1):
        when = last - datetime.timedelta(days=back)
        path = folder / retention.folder_name(name, when)
        if not path.is_dir():
            titles.append(f"{when}: no folder")
            continue
        files, size = content_of(path)
        seal = "sealed" if (path / "SHA256SUMS").is_file() else "incomplete"
        titles.append(f"{when}: {format_bytes(size)}, {files} files, {seal}")
    return titles


def test_the_status_page_of_a_full_run_and_of_format_html_rendered_by_chromium(site, sftp, tmp_path):
    source, nas, at_sftp, db_at = tmp_path / "www", tmp_path / "nas", sftp.root / "web", sftp.root / "db"
    make_files(source, {**FILES, "data/archive.txt": "x" * 4000})
    sizes = {1: 5200, 2: 900, 3: 5100, 5: 4800, 6: 4700, 7: 4500, 8: 4400, 9: 2600, 10: 4300, 12: 4100, 13: 4000}
    for back, size in sizes.items():
        plant(nas / dated("web", back), size, sealed=back != 2, files=3)
        if back != 2:
            plant(at_sftp / dated("web", back), size, files=3)
    for back in (3, 4, 6, 8):  # db stopped three days ago
        plant(db_at / dated("db", back), 20000 + 300 * back)
    site.write_config([{"name": "web", "source_dir": str(source), "retention": 30,
                        "destinations": [{"rclone_path": str(nas)}, {"rclone_path": "offsite:web"}]},
                       {"name": "db", "source_dir": str(tmp_path / "dumps"), "rclone_path": "offsite:db"}],
                      rclone={"config": str(sftp.rclone_config)})
    run = site.doit()
    assert run.returncode == 1, output(run)  # db: source gone, stale
    page_file = site.config_path.parent / "status.html"
    html = page_file.read_text(encoding="utf-8")
    assert_self_contained(html)

    page = rendered(tmp_path, page_file)
    text = " ".join(" ".join(page.text).split())
    assert f"Backups of {socket.gethostname()}" in text
    assert [row[:6] for row in page.rows[:3]] == [
        ["web", str(nas), "OK", f"{day()} (0 days)", str(len(sizes)), "1"],
        ["web", "offsite:web", "OK", f"{day()} (0 days)", str(len(sizes)), "0"],
        ["db", "offsite:db", "STALE", f"{day(3)} (3 days)", "4", "0"]]
    assert all(row[8].startswith(str(day())) for row in page.rows[:3])
    assert [row[8].rpartition(" ")[2] for row in page.rows[:3]] == ["ok", "ok", "skipped"]
    assert set(page.charts) == {f"web at {nas}", "web at offsite:web", "db at offsite:db"}
    bars = page.charts[f"web at {nas}"]
    assert len(bars) == 28 and bars == chart_titles(nas, "web", day())
    files, size = content_of(nas / dated("web"))
    assert bars[-1] == f"{day()}: {format_bytes(size)}, {files} files, sealed"
    assert bars[-3] == f"{day(2)}: 900 B, 3 files, incomplete"
    assert bars[-5] == f"{day(4)}: no folder"
    assert page.charts["web at offsite:web"][-3] == f"{day(2)}: no folder"
    for bars in page.charts.values():
        assert len(bars) == 28
    web_log = html.partition("<h2>Log of web, last run</h2>")[2].partition("</pre>")[0]
    assert "backup.web: copying 4 files" in web_log and "backup.db:" not in web_log

    shot = tmp_path / "status-page.png"
    chromium(tmp_path, page_file, f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 20000
    if os.environ.get("STATUS_PAGE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)

    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "pages").mkdir()
    asked = subprocess.run(site.doit_command("status", "format=html", "out=pages/now.html"), cwd=caller,
                           env={**os.environ, "PWD": str(caller)}, capture_output=True, text=True, timeout=120)
    assert asked.returncode == 1, output(asked)  # db is stale
    assert f"status written to {caller / 'pages' / 'now.html'}" in asked.stdout
    assert "not OK: db at offsite:db: STALE" in output(asked)
    assert not (PROJECT / "pages").exists()
    html = (caller / "pages" / "now.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    again = rendered(tmp_path, caller / "pages" / "now.html")
    assert [row[:4] for row in again.rows[:3]] == [row[:4] for row in page.rows[:3]]
    assert again.charts[f"web at {nas}"] == chart_titles(nas, "web", day())
    text = " ".join(" ".join(again.text).split())
    assert ("CRITICAL status: newest complete offsite copy of db at offsite:db is 3 days old (max_age_days 2)"
            in text)
    assert f"CRITICAL check_mounts:db: source folder '{tmp_path / 'dumps'}' does not exist" in text


# --- 5. status while a run holds the lock ----------------------------------------------------------------------

def test_status_answers_while_a_slow_full_run_holds_the_lock(site, tmp_path):
    source, nas = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"big.bin": os.urandom(600_000), "small.txt": "small"})
    nas.mkdir()
    site.write_config([{"name": "web", "source_dir": str(source), "rclone_path": str(nas)}],
                      lock_wait_seconds=120, rclone={"flags": ["--bwlimit", "100k"]})
    running = subprocess.Popen(site.doit_command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (nas / dated("web")).is_dir():
            assert running.poll() is None and time.monotonic() < deadline, "the run did not start copying"
            time.sleep(0.1)
        began = time.monotonic()
        shown = site.doit("status", timeout=60)
        took = time.monotonic() - began
        assert running.poll() is None, "the run ended before status answered: the copy was not slow enough"
        stdout, stderr = running.communicate(timeout=120)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert took < 10, took
    rows, _ = table(shown.stdout)
    (row,) = rows
    assert (row["BACKUP"], row["STATE"], row["COMPLETE"], row["INCOMPLETE"]) == ("web", "NEVER", "0", "1"), row
    assert "lock" not in output(shown).lower()
    assert running.returncode == 0, stdout + stderr
    assert stdout.startswith("[backup OK]")
    assert sealed_listing(nas / dated("web")).keys() == {"big.bin", "small.txt"}
    after = site.doit("status")
    assert after.returncode == 0 and table(after.stdout)[0][0]["STATE"] == "OK", output(after)


# --- 6. doit log ----------------------------------------------------------------------------------------------

def web_lines(text: str, backup: str) -> list[str]:
    """The lines logger backup.NAME wrote in `text` (with continuation lines)."""
    entry = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ [A-Z]+ +([\w.-]+): ")
    kept, keeping = [], False
    for line in text.splitlines():
        found = entry.match(line)
        keeping = found[1] == f"backup.{backup}" if found else keeping
        if keeping:
            kept.append(line)
    return kept


def two_runs(site, tmp_path) -> tuple[str, str]:
    """Two full runs of `web` and `db`, the second with one file more; the log text of each."""
    for name in ("web", "db"):
        make_files(tmp_path / f"{name}-data", {"a.txt": f"{name} a", "b.txt": f"{name} b"})
        (tmp_path / f"nas-{name}").mkdir()
    site.write_config([{"name": name, "source_dir": str(tmp_path / f"{name}-data"),
                        "rclone_path": str(tmp_path / f"nas-{name}")} for name in ("web", "db")])
    assert site.doit().returncode == 0
    first = site.log_file.read_text(encoding="utf-8")
    make_files(tmp_path / "web-data", {"c.txt": "web c"})
    assert site.doit().returncode == 0
    return first, site.log_file.read_text(encoding="utf-8")[len(first):]


def test_log_without_a_known_name_fails_naming_the_backups(site, tmp_path):
    make_files(tmp_path / "data", {"a.txt": "a"})
    site.write_config([{"name": name, "source_dir": str(tmp_path / "data"), "rclone_path": str(tmp_path / name)}
                       for name in ("web", "db")])
    for args in (("log", "name=nope"), ("log",)):
        refused = site.doit(*args)
        assert refused.returncode == 1
        assert "give a backup's name: doit log name=NAME, NAME one of db, web" in output(refused)


def test_log_prints_the_backups_lines_of_the_last_run_or_of_the_last_runs(site, tmp_path):
    first, second = two_runs(site, tmp_path)
    assert any("copying 2 files" in line for line in web_lines(first, "web"))
    assert any("copying 3 files" in line for line in web_lines(second, "web"))
    last = site.doit("log", "name=web")
    assert last.returncode == 0, output(last)
    assert last.stdout.splitlines() == web_lines(second, "web")
    both = site.doit("log", "name=web", "runs=2")
    assert both.returncode == 0, output(both)
    assert both.stdout.splitlines() == web_lines(first, "web") + web_lines(second, "web")
    page = tmp_path / "page.html"
    site.doit("status", "format=html", f"out={page}")
    shown = page.read_text().partition("<h2>Log of web, last run</h2>")[2].partition("</pre>")[0]
    assert "backup.web: copying 3 files" in shown


# --- 7. status_page -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["local", "sftp"])
def test_status_page_gets_a_copy_of_the_page_after_a_full_run(site, tmp_path, request, where):
    make_files(tmp_path / "usb", FILES)
    (tmp_path / "nas").mkdir()
    backups = [{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(tmp_path / "nas")}]
    if where == "sftp":
        sftp = request.getfixturevalue("sftp")
        site.write_config(backups, status_page="offsite:status/host1.html",
                          rclone={"config": str(sftp.rclone_config)})
        copy = sftp.root / "status" / "host1.html"
    else:
        copy = tmp_path / "www" / "backups.html"
        site.write_config(backups, status_page=str(copy))
    run = site.doit()
    assert run.returncode == 0, output(run)
    page = (site.config_path.parent / "status.html").read_bytes()
    assert copy.read_bytes() == page
    assert b"<title>Backups of " in page and b">OK</span>" in page


# --- the bugs that do not belong to `doit log` --------------------------------------------------------------------

def test_what_status_says_the_next_good_run_deletes_is_what_it_deletes(site, tmp_path):
    make_files(tmp_path / "usb", FILES)
    nas = tmp_path / "nas"
    for back in (1, 2, 3):
        make_dated_folder(nas / dated("web", back))
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(nas),
                        "retention": 2}])
    shown = site.doit("status", "name=web")
    assert shown.returncode == 0, output(shown)
    marked = {line[1] for line in folder_sections(shown.stdout)[str(nas)] if line[5]}
    run = site.doit()
    assert run.returncode == 0, output(run)
    assert set(site.result("backup:web")["pruned"]) == {dated("web", 2), dated("web", 3)}
    assert marked == {dated("web", 2), dated("web", 3)}


def test_the_chart_of_a_stale_destination_shows_the_days_without_a_copy(site, tmp_path):
    nas = tmp_path / "nas"
    for back in (4, 5, 6):
        make_dated_folder(nas / dated("db", back))
    site.write_config([{"name": "db", "source_dir": str(tmp_path / "dumps"), "rclone_path": str(nas)}])
    page = tmp_path / "page.html"
    shown = site.doit("status", "format=html", f"out={page}")
    assert shown.returncode == 1 and "db at" in output(shown)
    bars = re.findall(r"<title>([^<]*)</title></rect>", page.read_text())
    assert len(bars) == 28
    assert bars[-4:] == [f"{day(back)}: no folder" for back in (3, 2, 1, 0)]


def test_the_page_of_a_full_run_shows_the_alerts_of_that_run(site, tmp_path):
    nas = tmp_path / "nas"
    make_dated_folder(nas / dated("db", 3))
    site.write_config([{"name": "db", "source_dir": str(tmp_path / "dumps"), "rclone_path": str(nas)}])
    run = site.doit()
    assert run.returncode == 1 and f"CRITICAL status: newest complete offsite copy of db at {nas}" in run.stdout
    alerts = (site.config_path.parent / "status.html").read_text().partition("<h2>Alerts of the last run</h2>")[2]
    assert f"newest complete offsite copy of db at {nas} is 3 days old" in alerts.partition("<h2>")[0]


def test_a_dry_run_never_stands_in_for_the_last_real_run(site, tmp_path):
    """A dry run has a result of its own: after a failed real run, `doit dry_run=1` leaves `doit status` FAILING
    (a monitor that runs it keeps seeing the failure)."""
    make_files(tmp_path / "usb", FILES)
    nas = tmp_path / "nas"
    make_dated_folder(nas / dated("web", 1))
    (nas / dated("web")).write_text("a file where today's folder goes")
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(nas)}])
    assert site.doit().returncode == 1
    (nas / dated("web")).unlink()
    assert site.doit("dry_run=1").returncode == 0
    shown = site.doit("status")
    rows, _ = table(shown.stdout)
    assert shown.returncode == 1, output(shown)
    assert row_at(rows, "web", nas)["STATE"] == "FAILING" and row_at(rows, "web", nas)["LAST RUN"].endswith("failed")
