"""Selection walks a real folder tree: age filter, subfolders, exclusions, links and awkward names."""

import os
import time

from tasks.selection import exclusion_matcher, select
from tests.conftest import DAY, make_files


def chosen(list_file) -> list[str]:
    return sorted(list_file.read_bytes().decode("utf-8", "surrogateescape").splitlines())


def test_age_filter_recurses_and_sums_only_selected_files(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"new.txt": ("12345", 0), "a/b/c/deep.txt": ("1234567", 1.5),
                        "old.txt": ("x" * 100, 10), "a/old2.txt": ("y" * 50, 3)})
    listed = tmp_path / "files"
    selection = select(source, time.time() - 2 * DAY, (), listed)
    assert chosen(listed) == ["a/b/c/deep.txt", "new.txt"]
    assert (selection.files, selection.bytes) == (2, 12)
    assert selection.newest_seen >= selection.newest_selected > time.time() - 60


def test_no_age_filter_takes_everything_and_newest_seen_tells_the_age(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"old.txt": ("x", 30), "older.txt": ("y", 90)})
    listed = tmp_path / "files"
    assert select(source, None, (), listed).files == 2
    nothing = select(source, time.time() - DAY, (), listed)
    assert nothing.files == 0 and chosen(listed) == []
    assert abs(nothing.newest_seen - (time.time() - 30 * DAY)) < 60


def test_exclude_patterns_match_paths_and_bare_names(tmp_path):
    matches = exclusion_matcher(("*.tmp", "cache/*", "logs/2025-*"))
    assert matches("a/b/x.tmp", "x.tmp")
    assert matches("cache/sub/file", "file")
    assert matches("logs/2025-01.log", "2025-01.log")
    assert not matches("logs/2026-01.log", "2026-01.log")
    assert not matches("tmp/x.txt", "x.txt")
    source = tmp_path / "src"
    make_files(source, {"keep.txt": "k", "x.tmp": "t", "cache/c.bin": "c"})
    selection = select(source, None, ("*.tmp", "cache/*"), tmp_path / "files")
    assert chosen(tmp_path / "files") == ["keep.txt"] and selection.excluded == 2


def test_symlinks_are_counted_not_followed(tmp_path):
    outside = tmp_path / "outside"
    make_files(outside, {"secret.txt": "do not copy"})
    source = tmp_path / "src"
    make_files(source, {"real.txt": "r"})
    (source / "link-to-dir").symlink_to(outside)
    (source / "link-to-file").symlink_to(outside / "secret.txt")
    selection = select(source, None, (), tmp_path / "files")
    assert chosen(tmp_path / "files") == ["real.txt"]
    assert selection.symlinks == 2


def test_awkward_names_are_listed_literally(tmp_path):
    source = tmp_path / "src"
    names = ["with space.txt", " leading space", "trailing space ", "#hash.txt", ";semi", "ünïcødé/日本.txt"]
    make_files(source, {name: name for name in names})
    os.mkdir(source / b"bad-\xff-byte".decode("utf-8", "surrogateescape"))
    (source / b"bad-\xff-byte/f".decode("utf-8", "surrogateescape")).write_text("b")
    selection = select(source, None, (), tmp_path / "files")
    listed = tmp_path / "files"
    assert chosen(listed) == sorted(names + [b"bad-\xff-byte/f".decode("utf-8", "surrogateescape")])
    assert b"bad-\xff-byte/f\n" in listed.read_bytes()
    assert selection.files == len(names) + 1 and selection.problems == 0


def test_names_with_line_breaks_are_reported_not_dropped_silently(tmp_path):
    source = tmp_path / "src"
    make_files(source, {"fine.txt": "f", "two\nlines.txt": "t"})
    selection = select(source, None, (), tmp_path / "files")
    assert chosen(tmp_path / "files") == ["fine.txt"]
    assert selection.problems == 1
    assert "two\\nlines.txt: name contains a line break" in selection.problem_examples[0]


def test_list_file_is_private(tmp_path):
    make_files(tmp_path / "src", {"a": "a"})
    select(tmp_path / "src", None, (), tmp_path / "files")
    assert (tmp_path / "files").stat().st_mode & 0o077 == 0
