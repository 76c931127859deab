"""Several destinations for one backup (`destinations:`), end to end through the real doit CLI, real rclone and
`rclone serve sftp|webdav` on 127.0.0.1.

What is proven:
- one run copies the source into a sealed dated folder at a local folder, an sftp and a webdav destination, each a
  byte-for-byte copy whose SHA256SUMS lists every file, all three sealed with the very same sums; each destination
  is marked as this host's; each has a line of its own in the summary and an entry in the result file;
- a destination that is down is reported by name and fails the run (exit 1), while the others are copied, sealed
  and pruned as usual; nothing at the down destination is deleted;
- each destination applies its own retention, and its own min_free_gb (the others go on);
- `parallel_destinations` bounds how many destinations of one backup copy at once;
- giving both `rclone_path` and `destinations`, or neither, is a config problem named by `doit list`, and a full
  run refuses it without copying anything;
- verify, restore and drill work on the destination `dest=` names (number, remote name or rclone_path); the first
  by default; a `dest=` that names none, or several, fails listing the choices;
- a destination where another host writes the same backup is refused (CRITICAL), nothing copied or pruned there,
  while the other destination is sealed;
- each destination's result tells how long that destination took.

That the source is hashed once for all destinations has no observable of its own outside the process: the tests
show what follows from it, that every destination is sealed with byte-identical SHA256SUMS and each reports every
file sealed.
"""

import datetime
import shutil
import socket
import subprocess

import pytest

from tests.conftest import RCLONE, combined_config, listing, make_dated_folder, make_files, sealed_listing

FILES = {"a.txt": "alpha", "dir/b.txt": "bravo", "names/with space #1 ünï.txt": "odd"}
EXPECTED = {name: content.encode() for name, content in FILES.items()}


def dated(name: str, days_ago: int = 0) -> str:
    """`name_YYYY-MM-DD` of the local date `days_ago` days back, read at each use (a run may cross midnight)."""
    return f"{name}_{(datetime.date.today() - datetime.timedelta(days=days_ago)).isoformat()}"


def marker(backup: str = "web") -> str:
    """The file a backup leaves at the top of each of its destinations, naming this host."""
    return f"{backup}.host-{socket.gethostname()}"


def entry(source, *paths, **extra) -> dict:
    """Backup `web` of `source` to `paths`, each a str (its rclone_path) or a dict (a whole destinations item)."""
    items = [path if isinstance(path, dict) else {"rclone_path": str(path)} for path in paths]
    return {"name": "web", "source_dir": str(source), "destinations": items, **extra}


def old_copies(folder, ages) -> set[str]:
    """Sealed dated folders of `web` an earlier run left `ages` days ago (SHA256SUMS inside: prunable)."""
    return {make_dated_folder(folder / dated("web", age)).name for age in ages}


def names(folder) -> set[str]:
    return {path.name for path in folder.iterdir()}


def summary_line(stdout: str, start: str, anywhere: bool = False) -> str:
    """The one line of the printed summary that starts (after its indentation) with `start` (`anywhere`: holds)."""
    found = [line.strip() for line in stdout.splitlines()
             if (start in line if anywhere else line.strip().startswith(start))]
    assert len(found) == 1, f"{start!r} in:\n{stdout}"
    return found[0]


@pytest.fixture
def source(tmp_path):
    make_files(tmp_path / "usb", FILES)
    return tmp_path / "usb"


@pytest.fixture
def local(tmp_path):
    """Two local destination folders (a destination folder must exist before the run)."""
    folders = tmp_path / "nas1", tmp_path / "nas2"
    for folder in folders:
        folder.mkdir()
    return folders


@pytest.fixture
def remotes(tmp_path, sftp, webdav):
    """One rclone.conf with remote `offsite1` (the sftp server) and `offsite2` (the webdav server)."""
    return combined_config(tmp_path / "remotes" / "rclone.conf", {"offsite1": sftp, "offsite2": webdav})


def test_one_run_seals_the_same_copy_at_a_local_an_sftp_and_a_webdav_destination(site, source, local, sftp,
                                                                                  webdav, remotes):
    nas = local[0]
    site.write_config([entry(source, nas, "offsite1:backups",
                             {"rclone_path": "offsite2:backups", "verify": "download"})],
                      rclone={"config": str(remotes)})
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    folders = [nas / dated("web"), sftp.root / "backups" / dated("web"), webdav.root / "backups" / dated("web")]
    for folder in folders:
        assert sealed_listing(folder) == EXPECTED, folder
        assert (folder.parent / marker()).is_file(), folder.parent
    sums = {(folder / "SHA256SUMS").read_bytes() for folder in folders}
    assert len(sums) == 1  # one set of sums, sealed everywhere
    assert "[backup OK]" in run.stdout
    assert summary_line(run.stdout, "OK       web:").startswith("OK       web: 3 of 3 destinations ok; 3 files, 13 B")
    for where, copied in ((str(nas), str(folders[0])), ("offsite1:backups", f"offsite1:backups/{dated('web')}"),
                          ("offsite2:backups", f"offsite2:backups/{dated('web')}")):
        assert summary_line(run.stdout, f"OK       at {where}:").endswith(f"-> {copied}")
    result = site.result("backup:web")
    assert result["status"] == "ok" and result["reason"].startswith("3 of 3 destinations ok")
    assert [(each["where"], each["status"], each["destination"]) for each in result["destinations"]] == [
        (str(nas), "ok", str(folders[0])), ("offsite1:backups", "ok", f"offsite1:backups/{dated('web')}"),
        ("offsite2:backups", "ok", f"offsite2:backups/{dated('web')}")]
    assert [each["metrics"]["sealed_files"] for each in result["destinations"]] == [3, 3, 3]
    assert result["destinations"][2]["metrics"]["verified"] == "download"  # its own `verify`, not the backup's
    assert result["destinations"][0]["metrics"]["verified"] != "download"
    for check in ("check_rclone:web", "check_space:web"):
        assert [each["where"] for each in site.result(check)["destinations"]] == [
            str(nas), "offsite1:backups", "offsite2:backups"], check
    listed = site.doit("list")
    lines = [line for line in listed.stdout.splitlines() if line.startswith("backup:")]
    assert len(lines) == 1 and (f"{nas}/web_YYYY-MM-DD + offsite1:backups/web_YYYY-MM-DD + "
                                "offsite2:backups/web_YYYY-MM-DD") in lines[0]


def test_a_destination_that_is_down_blocks_nothing_and_loses_nothing(site, source, local, sftp, webdav, remotes):
    nas = local[0]
    at_sftp, at_webdav = sftp.root / "backups", webdav.root / "backups"
    webdav.stop()  # down for the whole run; its folder is made while it serves nothing (no stale listing)
    old = {folder: old_copies(folder, (1, 2, 3)) for folder in (nas, at_sftp, at_webdav)}
    kept = {name: listing(at_webdav / name) for name in old[at_webdav]}
    site.write_config([entry(source, nas, "offsite1:backups", "offsite2:backups", retention=1)],
                      rclone={"config": str(remotes)})
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert summary_line(run.stdout, "FAILED   web:").startswith("FAILED   web: 2 of 3 destinations ok")
    down = summary_line(run.stdout, "SKIPPED  at offsite2:backups:")
    assert "Nothing copied, nothing pruned" in down
    alert = summary_line(run.stdout, "check_rclone:web: at offsite2:backups: destination check failed", anywhere=True)
    assert alert.split()[0] in ("ERROR", "CRITICAL") and "cannot be reached" in alert
    for folder in (nas, at_sftp):  # sealed, and retention 1 pruned every older folder
        assert names(folder) == {dated("web"), marker()}, folder
        assert sealed_listing(folder / dated("web")) == EXPECTED
    result = site.result("backup:web")
    assert result["status"] == "failed" and result["reason"].startswith("2 of 3 destinations ok")
    assert [(each["status"], sorted(each["pruned"])) for each in result["destinations"]] == [
        ("ok", sorted(old[nas])), ("ok", sorted(old[at_sftp])), ("skipped", [])]
    webdav.start()
    listed = subprocess.run([RCLONE, "lsf", "--dirs-only", "offsite2:backups", "--config", str(remotes)],
                            capture_output=True, text=True, check=True)
    assert {line.rstrip("/") for line in listed.stdout.splitlines()} == old[at_webdav]
    assert {name: listing(at_webdav / name) for name in names(at_webdav)} == kept


def test_each_destination_keeps_its_own_number_of_copies(site, source, local, sftp, remotes):
    nas, at_sftp = local[0], sftp.root / "backups"
    ages = (1, 2, 3, 4)
    for folder in (nas, at_sftp):
        old_copies(folder, ages)
    site.write_config([entry(source, nas, {"rclone_path": "offsite1:backups", "retention": 3}, retention=1)],
                      rclone={"config": str(remotes)})
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert names(nas) == {dated("web"), marker()}
    assert names(at_sftp) == {dated("web"), dated("web", 1), dated("web", 2), marker()}
    result = site.result("backup:web")
    assert [sorted(each["pruned"]) for each in result["destinations"]] == [
        sorted(dated("web", age) for age in ages), sorted(dated("web", age) for age in (3, 4))]
    assert f"pruned {dated('web', 3)}, {dated('web', 4)}" in summary_line(run.stdout, "OK       at offsite1:backups:")
    listed = site.doit("list")
    assert "keep 1/3" in next(line for line in listed.stdout.splitlines() if line.startswith("backup:web"))


@pytest.mark.parametrize(("both", "problem"), [
    (True, "give either `rclone_path` (one destination) or `destinations` (several), not both"),
    (False, "no destination: give `rclone_path` (one destination) or `destinations` (several)"),
], ids=["both", "neither"])
def test_a_backup_with_both_or_no_destination_forms_is_refused(site, source, local, both, problem):
    nas1, nas2 = local
    wrong = {"name": "web", "source_dir": str(source)}
    if both:
        wrong |= {"rclone_path": str(nas1), "destinations": [{"rclone_path": str(nas2)}]}
    site.write_config([wrong])
    listed = site.doit("list")
    assert listed.returncode == 0
    assert f"  backup_copy_list[0] (web): {problem}" in listed.stderr.splitlines()
    assert "NOT USABLE" in next(line for line in listed.stdout.splitlines() if line.startswith("backup:web"))
    run = site.doit()
    assert run.returncode == 1
    assert "CRITICAL: invalid config, nothing was done" in run.stdout and problem in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert list(nas1.iterdir()) == [] and list(nas2.iterdir()) == []


def test_dest_picks_the_destination_verify_restore_and_drill_work_on(site, source, local, sftp, remotes, tmp_path):
    nas = local[0]
    site.write_config([entry(source, nas, "offsite1:backups")], rclone={"config": str(remotes)})
    assert site.doit().returncode == 0
    shutil.rmtree(nas / dated("web"))  # only the second destination still holds a copy
    default = site.doit("run", "restore:web", f"target={tmp_path / 'first'}")
    assert default.returncode == 1 and f"no complete folder of web at {nas}" in default.stdout
    assert not (tmp_path / "first").exists() or list((tmp_path / "first").iterdir()) == []
    sums = (sftp.root / "backups" / dated("web") / "SHA256SUMS").read_bytes()
    for wanted in ("2", "offsite1"):
        target = tmp_path / f"restored-{wanted}"
        target.mkdir()
        restored = site.doit("run", "restore:web", f"target={target}", f"dest={wanted}")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert f"restored 3 files of {dated('web')} into {target}" in restored.stdout
        assert listing(target) == {**EXPECTED, "SHA256SUMS": sums}
    verified = site.doit("run", "verify:web", "dest=offsite1:backups")
    assert verified.returncode == 0 and f"all 3 files of {dated('web')} match its SHA256SUMS" in verified.stdout
    assert site.doit("run", "verify:web", "dest=1").returncode == 1
    drilled = site.doit("run", "drill:web", "dest=2")
    assert drilled.returncode == 0 and f"of {dated('web')} downloaded and matched SHA256SUMS" in drilled.stdout
    choices = f"(dest=1: {nas}; dest=2: offsite1:backups)"
    for command in (("verify:web",), ("restore:web", f"target={tmp_path / 'never'}")):
        unknown = site.doit("run", *command, "dest=offsite9")
        assert unknown.returncode == 1
        assert f"dest=offsite9 names no destination of web {choices}" in unknown.stdout
    assert not (tmp_path / "never").exists()
    site.write_config([entry(source, "offsite1:a", "offsite1:b")], rclone={"config": str(remotes)})
    ambiguous = site.doit("run", "verify:web", "dest=offsite1")
    assert ambiguous.returncode == 1
    assert "dest=offsite1 matches several destinations of web (dest=1: offsite1:a; dest=2: offsite1:b)" in \
        ambiguous.stdout


def test_a_destination_another_host_writes_is_refused_and_the_other_is_sealed(site, source, local):
    mine, shared = local
    old = old_copies(shared, (1, 2))
    (shared / "web.host-someotherhost").write_text("backup web at this path is written by host someotherhost\n")
    before = {name: listing(shared / name) for name in old}
    site.write_config([entry(source, mine, shared, retention=1)])
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert sealed_listing(mine / dated("web")) == EXPECTED
    assert names(mine) == {dated("web"), marker()}
    assert names(shared) == old | {"web.host-someotherhost"}  # nothing copied, pruned or marked there
    assert {name: listing(shared / name) for name in old} == before
    alert = summary_line(run.stdout, f"CRITICAL backup:web: at {shared}:")
    assert f"{shared} is also written by host someotherhost" in alert
    assert summary_line(run.stdout, "FAILED   web:").startswith("FAILED   web: 1 of 2 destinations ok")
    assert [each["status"] for each in site.result("backup:web")["destinations"]] == ["ok", "failed"]


def test_a_destination_below_its_own_min_free_gb_is_skipped_and_the_other_is_copied(site, source, local):
    roomy, full = local
    site.write_config([entry(source, roomy, {"rclone_path": str(full), "min_free_gb": 10 ** 9}, min_free_gb=0)])
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert sealed_listing(roomy / dated("web")) == EXPECTED
    assert list(full.iterdir()) == []
    space = site.result("check_space:web")
    assert [each["status"] for each in space["destinations"]] == ["ok", "failed"]
    assert "below min_free_gb 1000000000" in space["destinations"][1]["reason"]
    assert f"CRITICAL check_space:web: at {full}: only" in run.stdout
    assert summary_line(run.stdout, "FAILED   web:").startswith("FAILED   web: 1 of 2 destinations ok")


def slow_rclone(tmp_path, seconds: float):
    """An rclone that takes `seconds` longer for each `copy` and notes when each started and ended."""
    log = tmp_path / "copies.log"
    wrapper = tmp_path / "slow-rclone"
    wrapper.write_text(f"#!/bin/sh\nif [ \"$1\" = copy ]; then\n  echo \"start $(date +%s.%N)\" >> {log}\n"
                       f"  sleep {seconds}\n  {RCLONE} \"$@\"\n  status=$?\n  echo \"end $(date +%s.%N)\" >> {log}\n"
                       f"  exit $status\nfi\nexec {RCLONE} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper, log


def most_at_once(log) -> tuple[int, int]:
    """(copies started, most copies running at the same time) from the wrapper's notes."""
    events = sorted((float(stamp), kind == "start") for kind, stamp in (line.split() for line in
                                                                          log.read_text().splitlines()))
    running = most = 0
    for _, started in events:  # at the same instant an end sorts before a start
        running += 1 if started else -1
        most = max(most, running)
    return sum(started for _, started in events), most


@pytest.mark.parametrize("parallel", [1, None], ids=["one-at-a-time", "default-two"])
def test_parallel_destinations_bounds_the_copies_running_at_once(site, source, tmp_path, parallel):
    folders = [tmp_path / f"nas{number}" for number in (1, 2, 3)]
    for folder in folders:
        folder.mkdir()
    wrapper, log = slow_rclone(tmp_path, 1)
    settings = {"rclone": {"binary": str(wrapper)}}
    if parallel:
        settings["parallel_destinations"] = parallel
    site.write_config([entry(source, *folders)], **settings)
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    for folder in folders:
        assert sealed_listing(folder / dated("web")) == EXPECTED
    started, most = most_at_once(log)
    assert started >= 3
    assert most == (parallel or 2)


def test_each_destination_reports_how_long_it_took(site, source, local, tmp_path):
    """Each copy takes at least a second here: the destination's duration in the result file (and the mail's
    Duration column) must say so, not only its last, instant step."""
    wrapper, _ = slow_rclone(tmp_path, 1)
    site.write_config([entry(source, *local)], rclone={"binary": str(wrapper)})
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    result = site.result("backup:web")
    assert [each["duration_s"] >= 1 for each in result["destinations"]] == [True, True], result["destinations"]
    assert result["duration_s"] >= 1
