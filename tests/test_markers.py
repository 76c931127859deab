"""Marker files (`exclude_if_present`, `.nobackup` by default): a folder holding one is left out with all below
it, wherever in the walk the marker comes, and the run names what it left out."""

import os
import time

from tasks import integrity, selection
from tests.conftest import make_files, sealed_listing

DAY = 86400


def select(tmp_path, source, markers=(".nobackup",), newer_than=None):
    list_file = tmp_path / "files"
    chosen = selection.select(source, newer_than, (), list_file, markers=markers)
    listed = sorted(os.fsdecode(path) for path, _ in selection.listed(list_file))
    return chosen, listed


def test_a_marked_folder_is_left_out_with_everything_below_it(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"keep.txt": "k", "cache/a.bin": "aa", "cache/deep/b.bin": "bbb", "cache/.nobackup": "",
                        "work/c.txt": "c", "work/tmp/.nobackup": "", "work/tmp/d.txt": "dddd",
                        "cache/deep/.nobackup": ""})
    chosen, listed = select(tmp_path, source)
    assert listed == ["keep.txt", "work/c.txt"]
    assert (chosen.files, chosen.bytes) == (2, 2)
    assert sorted(chosen.marked_folders) == ["cache", "work/tmp"]  # cache/deep is below cache: counted once
    assert chosen.marked_files == 3


def test_the_records_stay_aligned_with_the_list_so_hashing_finds_each_file(tmp_path):
    source = tmp_path / "src"
    make_files(source, {f"m{n}/f.txt": f"in {n}" for n in range(5)} | {"m2/.nobackup": "", "z.txt": "zed"})
    _, listed = select(tmp_path, source)
    hashed, problems = integrity.hash_listed(source, tmp_path / "files", tmp_path / "sums")
    assert (hashed, problems) == (5, [])
    assert sorted(integrity.parse((tmp_path / "sums").read_text())) == listed


def test_the_newest_file_is_counted_from_what_is_kept(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"old.txt": ("old", 3), "skip/new.txt": ("new", 0), "skip/.nobackup": ("", 5)})
    chosen, _ = select(tmp_path, source, newer_than=time.time() - 10 * DAY)
    assert chosen.files == 1 and chosen.newest_selected < time.time() - 2 * DAY


def test_a_marker_at_the_top_leaves_out_everything(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"a.txt": "a", "b/c.txt": "c", ".nobackup": ""})
    chosen, listed = select(tmp_path, source)
    assert listed == [] and chosen.marked_folders == ["."] and chosen.marked_files == 2


def test_without_markers_the_marker_file_is_an_ordinary_file(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"cache/a.bin": "aa", "cache/.nobackup": ""})
    chosen, listed = select(tmp_path, source, markers=())
    assert listed == ["cache/.nobackup", "cache/a.bin"] and chosen.marked_folders == []


def test_a_run_leaves_marked_folders_out_and_names_them(site, tmp_path):
    source, nas = tmp_path / "usb", tmp_path / "nas"
    nas.mkdir()
    make_files(source, {"docs/a.txt": "alpha", "vm-images/.nobackup": "", "vm-images/disk.img": "x" * 1000,
                        "photos/p.jpg": "jpeg", "photos/thumbs/IGNORE": "", "photos/thumbs/t.jpg": "t"})
    site.write_config([{"name": "web", "source_dir": str(source), "rclone_path": str(nas),
                        "exclude_if_present": [".nobackup", "IGNORE"]}])
    run = site.doit()
    assert run.returncode == 0, run.stdout + run.stderr
    (folder,) = [path for path in nas.iterdir() if path.is_dir()]
    assert set(sealed_listing(folder)) == {"docs/a.txt", "photos/p.jpg"}
    result = site.result("backup:web")
    assert (result["metrics"]["marked_folders"], result["metrics"]["marked_files"]) == (2, 2)
    left_out = next(alert["message"] for alert in result["alerts"] if "left out" in alert["message"])
    assert "2 folders left out (they hold .nobackup or IGNORE), 2 files in them: " in left_out
    assert "photos/thumbs" in left_out and "vm-images" in left_out


def test_a_marker_name_with_a_path_or_a_wildcard_is_a_config_error(site, tmp_path):
    (tmp_path / "usb").mkdir()
    site.write_config([{"name": "web", "source_dir": str(tmp_path / "usb"), "rclone_path": str(tmp_path),
                        "exclude_if_present": ["cache/.nobackup", "*.skip"]}])
    listed = site.doit("list")
    shown = listed.stdout + listed.stderr
    assert "exclude_if_present" in shown and "cache/.nobackup" in shown and "Traceback" not in shown
