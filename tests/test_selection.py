"""Selection walks a real folder tree: age filter, subfolders, exclusions, links and awkward names."""

import datetime
import os
import subprocess
import time

import pytest

from tasks.selection import exclusion_matcher, select
from tests.conftest import DAY, RCLONE, listing, make_dated_folder, make_files


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


def test_every_file_select_writes_beside_the_list_is_private(tmp_path):
    make_files(tmp_path / "src", {"a": "a", "b/c": "c"})
    (tmp_path / "lists").mkdir()
    select(tmp_path / "src", None, (), tmp_path / "lists" / "files")
    written = list((tmp_path / "lists").iterdir())
    assert written and all(path.stat().st_mode & 0o077 == 0 for path in written)


def listed_names(list_file) -> list[str]:
    """Like `chosen`, but lines end at "\n" only, as rclone reads them (U+2028 or U+0085 are not line ends)."""
    return sorted(list_file.read_bytes().decode("utf-8", "surrogateescape").split("\n")[:-1])


#: Characters whose names rclone 1.75.2 skips silently in --files-from-raw (measured; see SKIPPED_BY_RCLONE):
#: every C0 control but the line breaks (refused as such), DEL, the Control Pictures it maps them to, its quote mark.
RCLONE_SKIPS = ([chr(code) for code in range(1, 0x20) if chr(code) not in "\n\r"] + ["\x7f"]
                + [chr(code) for code in range(0x2401, 0x2420)] + ["\u2421", "\u201b"])
#: Neighbours it copies: NUL's picture, C1 controls, Unicode line separators, fullwidth slash and dot, BOM.
RCLONE_COPIES = (["\u2400", "\u2028", "\u2029", "\uff0f", "\uff0e", "\ufeff", "\u00a0"]
                 + [chr(code) for code in range(0x80, 0xA0)])


@pytest.mark.parametrize("char", RCLONE_SKIPS, ids=[f"U+{ord(char):04X}" for char in RCLONE_SKIPS])
def test_names_rclone_would_skip_are_refused_by_name_shown_escaped(tmp_path, char):
    source = tmp_path / "src"
    make_files(source, {"fine.txt": "f", f"dir{char}/a{char}b.txt": "refused"})
    selection = select(source, None, (), tmp_path / "files")
    assert listed_names(tmp_path / "files") == ["fine.txt"]
    assert (selection.files, selection.problems) == (1, 1)
    shown = f"\\x{ord(char):02x}" if ord(char) < 0x80 else char
    shown = {"\t": "\\t"}.get(char, shown)
    assert selection.problem_examples[0].startswith(f"dir{shown}/a{shown}b.txt: name contains {shown}")
    assert "which rclone skips silently" in selection.problem_examples[0]


def test_rclone_copies_exactly_the_names_selection_lists_and_skips_those_it_refuses(tmp_path):
    """Holds the measurement to the installed rclone: no listed name is dropped, no refused name could be copied."""
    source, listed, refused = tmp_path / "src", tmp_path / "files", tmp_path / "refused"
    names = [f"{kind}/{ord(char):04x}{shape}" for kind, chars in (("skips", RCLONE_SKIPS + ["\r"]),
                                                                 ("copies", RCLONE_COPIES))
             for char in chars for shape in (f"-a{char}b", f"-{char}", f"-dir{char}/f")]
    make_files(source, dict.fromkeys(names, "x"))
    select(source, None, (), listed)
    kept = listed_names(listed)
    refused.write_bytes(b"".join(os.fsencode(name) + b"\n" for name in names if name not in kept))
    for file_list, destination in ((listed, tmp_path / "copied"), (refused, tmp_path / "skipped")):
        subprocess.run([RCLONE, "copy", str(source), str(destination), "--files-from-raw", str(file_list),
                        "--config", "/dev/null", "-q"], check=True, timeout=120)
    assert sorted(listing(tmp_path / "copied")) == kept
    assert not (tmp_path / "skipped").exists() or listing(tmp_path / "skipped") == {}
    assert sorted(name for name in names if name.startswith("copies/")) == kept


def test_names_rclone_would_skip_are_named_the_rest_copied_and_not_sealed(site, tmp_path):
    """End to end with real rclone: today such names were skipped silently ("accounted for 2 of the 5")."""
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"good.txt": "good", "sub/also good.txt": "also", "bell\x07.txt": "b",
                        "esc\x1b[31mred.txt": "e", "vt\x0b.txt": "v"})
    yesterday = make_dated_folder(destination / f"usb1_{datetime.date.today() - datetime.timedelta(days=1)}")
    kept = listing(yesterday)
    site.write_config([{"name": "usb1", "source_dir": str(source), "rclone_path": str(destination), "retention": 1}])
    run = site.doit()
    assert run.returncode == 1, run.stdout + run.stderr
    for shown in ("bell\\x07.txt: name contains \\x07", "esc\\x1b[31mred.txt: name contains \\x1b",
                  "vt\\x0b.txt: name contains \\x0b"):
        assert shown in run.stdout, run.stdout
    assert "\x1b" not in run.stdout + run.stderr, "a raw escape sequence reached the summary"
    today = destination / f"usb1_{datetime.date.today()}"
    assert listing(today) == {"good.txt": b"good", "sub/also good.txt": b"also"}  # and no SHA256SUMS
    assert listing(yesterday) == kept
