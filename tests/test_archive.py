"""`mode: archive` (cold storage) and `delete_source_after_archive`, end to end through the real doit CLI, real
rclone and `rclone serve sftp` on 127.0.0.1 (local folders where the remote does not matter).

What is proven here:
- the plan (tasks.archive.plan / beside): a new path is uploaded, a file archived with the same sha256 (at its path
  or stored beside) is skipped, a changed file goes beside with the date tag (then `-2`), a path the manifest does
  not know or the manifest's own name is never written over;
- with two destinations and one of them down, no source file is deleted and the run fails saying why; with both
  up, every source file is deleted only after both hold it byte for byte, each ARCHIVE-SHA256SUMS lists exactly
  those files with their sha256 under one heading, the result names each deletion, and restore gives the bytes
  back;
- a later run uploads only what is new or changed, stores a changed file beside the old one (never over it) and
  only appends to the manifest;
- a destination copy that does not have the sha256 the proof expects (rotted there, or a source file edited
  between hashing and upload) keeps every source file and fails the run naming the file; a file edited after
  its proof and before its deletion is kept;
- a read-only source is a warning (files archived, none deleted, exit 0); a dry run uploads and deletes nothing;
- the config mistakes `mode: archive` + retention keys and `delete_source_after_archive` without it are named;
- nothing at the destination that this run did not write is removed (a file another writer put there during the
  run), an archived top-level file whose name looks like a host marker does not lock the archive, and a skipped
  destination is named as itself in the result.
"""

import datetime
import hashlib
import shlex
import socket
import subprocess

import pytest

from tasks import archive
from tests.conftest import RCLONE, combined_config, listing, make_files, serve

MANIFEST = "ARCHIVE-SHA256SUMS"
FILES = {"a.txt": b"alpha file", "dir/b.bin": bytes(range(256)) * 3, "c d #.txt": b"charlie"}


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def today() -> str:
    """Read at each use: a suite may run across midnight."""
    return datetime.date.today().isoformat()


def heading(name: str = "cold") -> str:
    return f"# archived {today()} by {socket.gethostname()} (backup {name})"


def marker(name: str = "cold") -> str:
    return f"{name}.host-{socket.gethostname()}"


def blocks(manifest: bytes) -> list[tuple[str, dict[str, str]]]:
    """An ARCHIVE-SHA256SUMS as (heading, {path: sha256}) per run, after checking every line is one or the other."""
    found = []
    text = manifest.decode()
    assert text.endswith("\n"), text
    for line in text[:-1].split("\n"):
        if line.startswith("# "):
            found.append((line, {}))
            continue
        digest, separator, path = line.partition("  ")
        assert len(digest) == 64 and separator and found, f"not a heading nor a sum line: {line!r}"
        found[-1][1][path] = digest
    return found


def archived(folder) -> tuple[dict[str, bytes], list[tuple[str, dict[str, str]]]]:
    """(the archived files by path, the manifest's blocks) of an archive folder; only the host marker is
    left out, after checking it is there."""
    files = listing(folder)
    assert files.pop(marker()).startswith(b"backup cold at this path is written by host "), files
    return files, blocks(files.pop(MANIFEST))


def entry(source, **settings) -> dict:
    return {"name": "cold", "source_dir": str(source), "mode": "archive", **settings}


def alerts(result: dict, level: str) -> list[str]:
    return [alert["message"] for alert in result["alerts"] if alert["level"] == level]


# --- the plan, pure ---------------------------------------------------------------------------------------------

DAY = datetime.date(2026, 12, 2)
OLD, NEW, OTHER = "0" * 64, "1" * 64, "2" * 64


@pytest.mark.parametrize("path, day, taken, expected", [
    ("report.pdf", DAY, set(), "report.2026-12-02.pdf"),
    ("dir/sub/report.pdf", DAY, set(), "dir/sub/report.2026-12-02.pdf"),
    ("dir/report.pdf", DAY, {"dir/report.2026-12-02.pdf"}, "dir/report.2026-12-02-2.pdf"),
    ("dir/report.pdf", DAY, {"dir/report.2026-12-02.pdf", "dir/report.2026-12-02-2.pdf"},
     "dir/report.2026-12-02-3.pdf"),
    ("backup.tar.gz", DAY, set(), "backup.tar.2026-12-02.gz"),
    ("Makefile", DAY, set(), "Makefile.2026-12-02"),
    ("dir/.bashrc", DAY, set(), "dir/.bashrc.2026-12-02"),
    ("a.b/noext", DAY, set(), "a.b/noext.2026-12-02"),
])
def test_a_name_beside_keeps_folder_and_extension_and_is_never_taken(path, day, taken, expected):
    assert archive.beside(path, day, taken) == expected


def test_a_new_path_is_uploaded_to_its_own_path():
    decided = archive.plan([("dir/new.txt", NEW, 3)], {"old.txt": OLD}, {"old.txt"}, DAY)
    assert (decided.upload, decided.beside, decided.already) == ([("dir/new.txt", NEW, 3)], [], [])


def test_the_same_sha256_at_the_same_path_is_not_uploaded_again():
    decided = archive.plan([("a.txt", OLD, 3)], {"a.txt": OLD}, {"a.txt"}, DAY)
    assert (decided.upload, decided.beside, decided.already) == ([], [], [("a.txt", "a.txt", OLD, 3)])


def test_the_same_sha256_stored_beside_earlier_is_not_uploaded_again():
    manifest = {"dir/a.txt": OLD, "dir/a.2026-11-30.txt": NEW}
    decided = archive.plan([("dir/a.txt", NEW, 3)], manifest, set(manifest), DAY)
    assert (decided.upload, decided.beside) == ([], [])
    assert decided.already == [("dir/a.txt", "dir/a.2026-11-30.txt", NEW, 3)]


def test_a_changed_file_is_stored_beside_with_the_date_and_a_number_once_that_is_taken():
    manifest = {"dir/a.txt": OLD, "dir/a.2026-12-02.txt": OTHER}
    decided = archive.plan([("dir/a.txt", NEW, 3)], manifest, set(manifest), DAY)
    assert (decided.upload, decided.already) == ([], [])
    assert decided.beside == [("dir/a.txt", "dir/a.2026-12-02-2.txt", NEW, 3)]
    decided = archive.plan([("dir/a.txt", NEW, 3)], {"dir/a.txt": OLD}, {"dir/a.txt"}, DAY)
    assert decided.beside == [("dir/a.txt", "dir/a.2026-12-02.txt", NEW, 3)]


def test_a_listed_file_missing_at_the_destination_is_not_counted_as_archived():
    decided = archive.plan([("a.txt", OLD, 3)], {"a.txt": OLD}, set(), DAY)
    assert (decided.upload, decided.beside, decided.already) == ([("a.txt", OLD, 3)], [], [])


def test_a_file_at_the_path_the_manifest_does_not_know_is_not_written_over():
    decided = archive.plan([("a.txt", NEW, 3)], {}, {"a.txt"}, DAY)
    assert (decided.upload, decided.already) == ([], [])
    assert decided.beside == [("a.txt", "a.2026-12-02.txt", NEW, 3)]


def test_the_manifest_and_names_given_in_this_run_are_never_targets():
    files = [(MANIFEST, NEW, 3), ("x.txt", NEW, 1), ("x.2026-12-02.txt", OTHER, 1)]
    decided = archive.plan(files, {"x.txt": OLD}, {"x.txt"}, DAY)
    assert decided.beside == [(MANIFEST, f"{MANIFEST}.2026-12-02", NEW, 3),
                              ("x.txt", "x.2026-12-02.txt", NEW, 1),
                              ("x.2026-12-02.txt", "x.2026-12-02.2026-12-02.txt", OTHER, 1)]
    targets = [path for path, _, _ in decided.upload] + [stored for _, stored, _, _ in decided.beside]
    assert MANIFEST not in targets and len(set(targets)) == len(targets)


# --- end to end -------------------------------------------------------------------------------------------------

@pytest.fixture
def boxes(tmp_path):
    """Two sftp servers (`box1:`, `box2:` in one rclone.conf): double cold storage."""
    box1, box2 = serve("sftp", tmp_path / "one"), serve("sftp", tmp_path / "two")
    try:
        yield box1, box2, combined_config(tmp_path / "rclone.conf", {"box1": box1, "box2": box2})
    finally:
        box1.stop()
        box2.stop()


TWO = [{"rclone_path": "box1:archive"}, {"rclone_path": "box2:archive"}]
#: A server that is down is given up at once instead of after rclone's ten connection attempts.
FAIL_FAST = {"RCLONE_LOW_LEVEL_RETRIES": "1"}


def test_source_files_are_deleted_only_once_both_destinations_hold_them_by_sha256(site, tmp_path, boxes):
    box1, box2, rclone_config = boxes
    source = tmp_path / "usb"
    make_files(source, FILES)
    site.write_config([entry(source, destinations=TWO, delete_source_after_archive=True)],
                      rclone={"config": str(rclone_config)})

    box2.stop()
    down = site.doit(env=FAIL_FAST)
    assert down.returncode == 1, down.stdout + down.stderr
    assert listing(source) == FILES
    assert "no source file deleted: the archive at box2:archive was not proven in this run" in down.stdout
    assert "box2:archive" in down.stdout and "cannot be reached" in down.stdout
    result = site.result("backup:cold")
    assert result["status"] == "failed" and not result["metrics"].get("deleted_sources")
    assert "deleted from the source" not in down.stdout
    assert archived(box1.root / "archive")[0] == FILES  # the destination that was up got its copy all the same

    box2.start()
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    assert listing(source) == {}
    expected = {path: sha(content) for path, content in FILES.items()}
    checked = (f"# checked {today()} by {socket.gethostname()} (backup cold): nothing new, every selected file is "
               "archived", {})  # box1 got it all in the run box2 was down: this run found it complete there
    for box, later in ((box1, [checked]), (box2, [])):
        files, manifest = archived(box.root / "archive")
        assert files == FILES
        assert manifest == [(heading(), expected), *later]
    deleted = sorted(site.result("backup:cold")["metrics"]["deleted_sources"], key=lambda item: item["path"])
    assert deleted == [{"path": path, "size": len(FILES[path]), "sha256": expected[path],
                        "destinations": ["box1:archive", "box2:archive"]} for path in sorted(FILES)]
    size = sum(map(len, FILES.values()))
    assert (f"deleted from the source once archived: 3 files ({size} B): "
            + ", ".join(sorted(FILES))) in run.stdout
    log = site.log_file.read_text()
    assert all(f"deleted source file {path} ({len(FILES[path])} bytes, sha256 {expected[path]})" in log
               for path in FILES)

    for dest, box in (("1", box1), ("2", box2)):
        target = tmp_path / f"restored{dest}"
        restored = site.doit("run", "restore:cold", f"target={target}", f"dest={dest}")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert listing(target) == {**FILES, MANIFEST: (box.root / "archive" / MANIFEST).read_bytes()}
        checked = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=target, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert sorted(checked.stdout.splitlines()) == sorted(f"{path}: OK" for path in FILES)


def test_a_skipped_destination_is_named_as_itself_in_the_result(site, tmp_path, sftp):
    """The result file (and what reads it) says where each destination's copy went: the one that was skipped
    must not be reported as the first destination."""
    source, local = tmp_path / "usb", tmp_path / "nas"
    make_files(source, FILES)
    local.mkdir()
    site.write_config([entry(source, destinations=[{"rclone_path": str(local)},
                                                   {"rclone_path": "offsite:archive"}])],
                      rclone={"config": str(sftp.rclone_config)})
    sftp.stop()
    run = site.doit(env=FAIL_FAST)
    assert run.returncode == 1, run.stdout + run.stderr
    result = site.result("backup:cold")
    assert [item["status"] for item in result["destinations"]] == ["ok", "skipped"]
    assert [item["destination"] for item in result["destinations"]] == [str(local), "offsite:archive"]


def test_later_runs_add_only_what_is_new_or_changed_and_only_append_to_the_manifest(site, tmp_path, sftp):
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, {"a.txt": "alpha", "dir/report.pdf": "version 1", "z.txt": "zulu"})
    site.write_config([entry(source, rclone_path="offsite:archive")], rclone={"config": str(sftp.rclone_config)})
    first = site.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    first_manifest = (disk / MANIFEST).read_bytes()
    first_files = {path: (disk / path).stat() for path in ("a.txt", "dir/report.pdf", "z.txt")}

    make_files(source, {"dir/report.pdf": "version 2, longer", "new/n.txt": "november"})
    second = site.doit()
    assert second.returncode == 0, second.stdout + second.stderr
    beside = f"dir/report.{today()}.pdf"
    files, manifest = archived(disk)
    assert files == {"a.txt": b"alpha", "dir/report.pdf": b"version 1", "z.txt": b"zulu",
                     beside: b"version 2, longer", "new/n.txt": b"november"}
    for path, before in first_files.items():
        after = (disk / path).stat()
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert (disk / MANIFEST).read_bytes().startswith(first_manifest)
    assert manifest[1] == (heading(), {beside: sha(b"version 2, longer"), "new/n.txt": sha(b"november")})
    assert len(manifest) == 2
    result = site.result("backup:cold")
    assert (result["metrics"]["archived_files"], result["metrics"]["stored_beside"],
            result["metrics"]["already_archived"]) == (2, 1, 2)
    assert any(f"dir/report.pdf -> {beside}" in message for message in alerts(result, "INFO"))
    assert listing(source) == {"a.txt": b"alpha", "dir/report.pdf": b"version 2, longer", "z.txt": b"zulu",
                               "new/n.txt": b"november"}  # no delete_source_after_archive: nothing deleted

    make_files(source, {"dir/report.pdf": "version 3"})
    third = site.doit()
    assert third.returncode == 0, third.stdout + third.stderr
    again = f"dir/report.{today()}-2.pdf"
    files, manifest = archived(disk)
    assert files[again] == b"version 3" and files[beside] == b"version 2, longer"
    assert files["dir/report.pdf"] == b"version 1"
    assert manifest[2] == (heading(), {again: sha(b"version 3")}) and len(manifest) == 3

    unchanged = (disk / MANIFEST).read_bytes()
    fourth = site.doit()
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    now = (disk / MANIFEST).read_bytes()  # nothing new: one line saying the archive was found complete today
    assert now.startswith(unchanged)
    assert now[len(unchanged):].decode() == (f"# checked {today()} by {socket.gethostname()} (backup cold): nothing "
                                             "new, every selected file is archived\n")
    verified = site.doit("run", "verify:cold")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "all 6 files of the archive at offsite:archive match its ARCHIVE-SHA256SUMS" in verified.stdout


def test_an_archived_copy_that_no_longer_has_its_sha256_keeps_every_source_file(site, tmp_path, sftp):
    """Archived in an earlier run, then damaged at the destination (same size: a listing cannot tell). Before
    source files are deleted, the copies already archived are proven again: the damage is caught."""
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, FILES)
    site.write_config([entry(source, rclone_path="offsite:archive")], rclone={"config": str(sftp.rclone_config)})
    first = site.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    manifest = (disk / MANIFEST).read_bytes()
    damaged = b"ALPHA FILE"
    assert len(damaged) == len(FILES["a.txt"])
    (disk / "a.txt").write_bytes(damaged)

    site.write_config([entry(source, rclone_path="offsite:archive", delete_source_after_archive=True)],
                      rclone={"config": str(sftp.rclone_config)})
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert listing(source) == FILES
    result = site.result("backup:cold")
    assert result["status"] == "failed" and not result["metrics"].get("deleted_sources")
    assert "sha256" in result["reason"] and "a.txt" in result["reason"]
    assert "a.txt" in run.stdout and "deleted from the source" not in run.stdout
    assert (disk / MANIFEST).read_bytes() == manifest
    assert (disk / "a.txt").read_bytes() == damaged  # nothing at the destination is overwritten

    verified = site.doit("run", "verify:cold")
    assert verified.returncode == 1
    assert "1 differ (a.txt)" in verified.stdout, verified.stdout


def rclone_that(tmp_path, when: str, after: bool, edit) -> str:
    """An rclone that edits a source file in place (same size) just before (or right after) it runs `when`."""
    wrapper = tmp_path / f"rclone-editing-at-{when}"
    change = f"printf EDITED | dd of={shlex.quote(str(edit))} conv=notrunc status=none\n"
    if after:
        body = f"{RCLONE} \"$@\"\ncode=$?\nif [ \"$1\" = {when} ]; then\n  {change}fi\nexit $code\n"
    else:
        body = f"if [ \"$1\" = {when} ]; then\n  {change}fi\nexec {RCLONE} \"$@\"\n"
    wrapper.write_text("#!/bin/sh\n" + body)
    wrapper.chmod(0o755)
    return str(wrapper)


def test_a_file_edited_between_hashing_and_upload_is_neither_listed_nor_deleted(site, tmp_path, sftp):
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, FILES)
    site.write_config([entry(source, rclone_path="offsite:archive", delete_source_after_archive=True)],
                      rclone={"config": str(sftp.rclone_config),
                              "binary": rclone_that(tmp_path, "copy", after=False, edit=source / "a.txt")})
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    edited = b"EDITED" + FILES["a.txt"][6:]
    assert listing(source) == {**FILES, "a.txt": edited}
    result = site.result("backup:cold")
    assert result["status"] == "failed" and not result["metrics"].get("deleted_sources")
    assert "did not match their sha256" in result["reason"] and "a.txt" in result["reason"]
    (_, proven), = blocks((disk / MANIFEST).read_bytes())
    assert proven == {path: sha(content) for path, content in FILES.items() if path != "a.txt"}


def test_a_file_edited_after_its_copy_was_proven_is_not_deleted(site, tmp_path, sftp):
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, FILES)
    site.write_config([entry(source, rclone_path="offsite:archive", delete_source_after_archive=True)],
                      rclone={"config": str(sftp.rclone_config),
                              "binary": rclone_that(tmp_path, "checksum", after=True, edit=source / "a.txt")})
    run = site.doit()
    edited = b"EDITED" + FILES["a.txt"][6:]
    assert listing(source) == {"a.txt": edited}
    files, manifest = archived(disk)
    assert files == FILES and manifest == [(heading(), {path: sha(content) for path, content in FILES.items()})]
    result = site.result("backup:cold")
    assert sorted(item["path"] for item in result["metrics"]["deleted_sources"]) == ["c d #.txt", "dir/b.bin"]
    assert "1 archived source files were not deleted: a.txt (changed since it was archived)" in run.stdout
    assert run.returncode == 0 and result["status"] == "warning", run.stdout + run.stderr


def test_a_file_that_grows_between_selection_and_hashing_is_neither_archived_nor_deleted(site, tmp_path, sftp):
    """The file grows after the source was walked, before it is hashed (when the archive's manifest is read):
    it is named, not uploaded, not listed, and no source file is deleted."""
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, FILES)
    once = tmp_path / "grown"
    wrapper = tmp_path / "rclone-growing-a-file"
    wrapper.write_text(f"#!/bin/sh\nif [ \"$1\" = cat ] && [ ! -e {once} ]; then\n  touch {once}\n"
                       f"  printf ' and more' >> {shlex.quote(str(source / 'a.txt'))}\nfi\nexec {RCLONE} \"$@\"\n")
    wrapper.chmod(0o755)
    site.write_config([entry(source, rclone_path="offsite:archive", delete_source_after_archive=True)],
                      rclone={"config": str(sftp.rclone_config), "binary": str(wrapper)})
    run = site.doit()
    assert once.exists(), "the file was never grown"
    assert run.returncode == 1, run.stdout + run.stderr
    assert listing(source) == {**FILES, "a.txt": FILES["a.txt"] + b" and more"}
    assert "a.txt: changed since it was listed" in run.stdout
    result = site.result("backup:cold")
    assert result["status"] == "failed" and not result["metrics"].get("deleted_sources")
    files, manifest = archived(disk)
    assert "a.txt" not in files
    assert manifest == [(heading(), {path: sha(content) for path, content in FILES.items() if path != "a.txt"})]


def test_a_file_someone_else_puts_at_the_destination_during_the_run_is_left_alone(site, tmp_path, sftp):
    """Between the run's listing of the archive and its upload, a file appears at a path the run meant to fill
    (another writer). The upload never replaces it, so it does not match this run's sha256: the source file is
    kept and not listed, and that file, which this run did not write, must stay as it is."""
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, FILES)
    theirs = tmp_path / "theirs.txt"
    theirs.write_bytes(b"not from this backup")
    wrapper = tmp_path / "rclone-with-another-writer"
    wrapper.write_text(f"#!/bin/sh\nif [ \"$1\" = copy ]; then\n  {RCLONE} copyto {theirs} offsite:archive/a.txt "
                       f"--config {sftp.rclone_config} 2>/dev/null\nfi\nexec {RCLONE} \"$@\"\n")
    wrapper.chmod(0o755)
    site.write_config([entry(source, rclone_path="offsite:archive", delete_source_after_archive=True)],
                      rclone={"config": str(sftp.rclone_config), "binary": str(wrapper)})
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert listing(source) == FILES
    (_, proven), = blocks((disk / MANIFEST).read_bytes())
    assert "a.txt" not in proven
    assert (disk / "a.txt").read_bytes() == b"not from this backup"


def read_only_source(site, source) -> subprocess.CompletedProcess:
    """A full run with `source` mounted read-only (a bind mount in a private mount namespace)."""
    folder = shlex.quote(str(source))
    script = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
              f"exec {shlex.join(site.doit_command())}")
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if "mount" in run.stderr and "Traceback" not in run.stderr and run.returncode not in (0, 1, 2):
        pytest.skip(f"no private read-only mount here: {run.stderr.strip()[:200]}")
    return run


def test_a_read_only_source_is_archived_and_said_to_stay_not_failed(site, tmp_path):
    source, local = tmp_path / "usb", tmp_path / "nas"
    make_files(source, FILES)
    local.mkdir()
    site.write_config([entry(source, rclone_path=str(local), delete_source_after_archive=True)])
    run = read_only_source(site, source)
    assert run.returncode == 0, run.stdout + run.stderr
    assert listing(source) == FILES
    files, manifest = archived(local)
    assert files == FILES and manifest == [(heading(), {path: sha(content) for path, content in FILES.items()})]
    result = site.result("backup:cold")
    assert result["status"] == "warning" and not result["metrics"].get("deleted_sources")
    warning = f"source folder {source} is read-only, so the 3 archived files stay there"
    assert any(message.startswith(warning) for message in alerts(result, "WARNING")), result["alerts"]
    assert warning in run.stdout


def test_a_dry_run_uploads_nothing_and_deletes_nothing(site, tmp_path, sftp):
    source, disk = tmp_path / "usb", sftp.root / "archive"
    make_files(source, FILES)
    site.write_config([entry(source, rclone_path="offsite:archive", delete_source_after_archive=True)],
                      rclone={"config": str(sftp.rclone_config)})
    run = site.doit("dry_run=1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert listing(source) == FILES
    assert not disk.exists() or listing(disk) == {}
    result = site.result("backup:cold")
    assert result["dry_run"] and not result["metrics"].get("deleted_sources")
    assert any("dry run: would archive 3 new files" in message for message in alerts(result, "INFO"))

    first = site.doit()  # a real run archives (and deletes) ...
    assert first.returncode == 0 and listing(source) == {}, first.stdout + first.stderr
    make_files(source, {"late.txt": "late"})
    archive_before = listing(disk)
    again = site.doit("dry_run=1")  # ... a dry run after it still touches neither side
    assert again.returncode == 0, again.stdout + again.stderr
    assert listing(source) == {"late.txt": b"late"} and listing(disk) == archive_before
    said = alerts(site.result("backup:cold"), "INFO")
    assert any("dry run: would archive 1 new files" in message for message in said), said


@pytest.mark.parametrize("settings, position, problem", [
    ({"mode": "archive", "retention": 3}, "backup_copy_list[0] (cold).retention",
     "`mode: archive` never deletes from the destination: remove this key"),
    ({"mode": "archive", "destinations": [{"rclone_path": "DEST", "retention_weeks": 4}]},
     "backup_copy_list[0] (cold).destinations[0].retention_weeks",
     "`mode: archive` never deletes from the destination: remove this key"),
    ({"delete_source_after_archive": True}, "backup_copy_list[0] (cold).delete_source_after_archive",
     "only with `mode: archive`"),
    ({"mode": "dated", "delete_source_after_archive": True},
     "backup_copy_list[0] (cold).delete_source_after_archive", "only with `mode: archive`"),
], ids=["archive-with-retention", "archive-destination-with-retention", "delete-without-archive",
        "delete-with-dated"])
def test_archive_config_mistakes_are_named_and_nothing_runs(site, tmp_path, settings, position, problem):
    source, local = tmp_path / "usb", tmp_path / "nas"
    make_files(source, FILES)
    local.mkdir()
    backup = {"name": "cold", "source_dir": str(source), **settings}
    if "destinations" in backup:
        backup["destinations"] = [{**item, "rclone_path": str(local)} for item in backup["destinations"]]
    else:
        backup["rclone_path"] = str(local)
    site.write_config([backup])
    listed = site.doit("list")
    assert f"  {position}: {problem}" in listed.stderr, listed.stdout + listed.stderr
    assert "Traceback" not in listed.stdout + listed.stderr
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "invalid config, nothing was done" in run.stdout and f"{position}: {problem}" in run.stdout
    assert listing(source) == FILES and listing(local) == {}


def test_an_archived_file_named_like_a_host_marker_does_not_lock_the_archive(site, tmp_path):
    """Markers are `<backup>.host-<host>` at the top of the destination, and so are an archive's top-level files:
    a source file `dump.host-db1.sql` is archived there and must not be taken for another host's marker (which
    stops every later run and tells the user to delete that archived file)."""
    source, local = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"dump.host-db1.sql": "select 1;", "a.txt": "alpha"})
    local.mkdir()
    site.write_config([entry(source, rclone_path=str(local))])
    first = site.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    make_files(source, {"b.txt": "bravo"})
    second = site.doit()
    assert second.returncode == 0, second.stdout + second.stderr
    files, manifest = archived(local)
    assert files == {"dump.host-db1.sql": b"select 1;", "a.txt": b"alpha", "b.txt": b"bravo"}
    assert [block for _, block in manifest] == [{"dump.host-db1.sql": sha(b"select 1;"), "a.txt": sha(b"alpha")},
                                                {"b.txt": sha(b"bravo")}]
