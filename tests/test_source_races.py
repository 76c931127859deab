"""Attacks by a local user who can write a source (a USB disk, a Samba share) on a backup that runs as root: a
listed file swapped between the walk and the hash, and names made to break SHA256SUMS."""

import contextlib
import datetime
import hashlib
import os
import signal
import threading
import time

import pytest

from tasks import integrity, selection
from tests.conftest import listing, make_dated_folder, make_files

MIB = 1024 * 1024


class StillHashing(Exception):
    """Not an OSError (as TimeoutError is), so no `except OSError` in the code under test can swallow it."""


@contextlib.contextmanager
def at_most(seconds: float):
    """Fail instead of hanging when the code under test reads forever (/dev/zero) or blocks in open() (a FIFO):
    SIGALRM interrupts both."""
    def expire(signum, frame):
        raise StillHashing(f"still hashing after {seconds} s: it followed a swapped file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def walk(source, tmp_path):
    """The frozen list of `source`, as a backup run selects it."""
    file_list = tmp_path / "files"
    selection.select(source, None, (), file_list)
    return file_list


def hash_as_a_run_does(source, file_list, tmp_path, seconds: float = 2, progress=lambda: None):
    """(hashed, problems, the sums written) of hashing the listed files, within `seconds`."""
    sums_file = tmp_path / "SHA256SUMS"
    with at_most(seconds):
        hashed, problems = integrity.hash_listed(source, file_list, sums_file, progress)
    return hashed, problems, integrity.parse(sums_file.read_text(encoding="utf-8", errors="surrogateescape"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_file_swapped_for_a_link_to_dev_zero_is_named_and_not_read(tmp_path):
    source = tmp_path / "usb"
    make_files(source, {"a.txt": "steady", "db.dump": "listed", "z.txt": "steady too"})
    file_list = walk(source, tmp_path)
    (source / "db.dump").unlink()
    (source / "db.dump").symlink_to("/dev/zero")
    started = time.monotonic()
    hashed, problems, sums = hash_as_a_run_does(source, file_list, tmp_path, seconds=1)
    assert time.monotonic() - started < 0.5
    assert len(problems) == 1 and problems[0].startswith("db.dump: changed since it was listed"), problems
    assert hashed == 2 and sums == {"a.txt": sha256("steady"), "z.txt": sha256("steady too")}


def test_a_folder_swapped_for_a_link_is_not_followed(tmp_path):
    source, elsewhere = tmp_path / "usb", tmp_path / "root-only"
    make_files(source, {"mine/report.txt": "my own", "top.txt": "top"})
    make_files(elsewhere, {"report.txt": "secret"})  # same name and size, outside the source
    file_list = walk(source, tmp_path)
    (source / "mine").rename(source / "moved")
    (source / "mine").symlink_to(elsewhere, target_is_directory=True)
    hashed, problems, sums = hash_as_a_run_does(source, file_list, tmp_path)
    assert len(problems) == 1 and problems[0].startswith("mine/report.txt: changed since it was listed"), problems
    assert hashed == 1 and sums == {"top.txt": sha256("top")}


def _replace(path, content: bytes) -> None:
    path.with_name("new").write_bytes(content)
    os.replace(path.with_name("new"), path)


def _rewrite_in_place(path, content: bytes) -> None:
    with open(path, "r+b") as handle:  # same inode
        handle.write(content)
        handle.truncate()


@pytest.mark.parametrize("swap", [
    lambda path: _replace(path, b"x" * (50 * MIB)),
    lambda path: _rewrite_in_place(path, b"x" * (50 * MIB)),
    lambda path: _replace(path, b"6"),
    lambda path: _rewrite_in_place(path, b"6"),
    lambda path: os.link(path.with_name("same-size.txt"), path.with_name("new")) or os.replace(
        path.with_name("new"), path),
], ids=["replaced-by-bigger", "grown-in-place", "replaced-by-smaller", "shrunk-in-place", "another-file-same-size"])
def test_a_file_swapped_after_the_walk_is_named_and_never_read_past_its_listed_size(tmp_path, swap):
    source = tmp_path / "usb"
    make_files(source, {"small.txt": "6 B!\n\n", "same-size.txt": "other!"})
    file_list = walk(source, tmp_path)
    swap(source / "small.txt")
    chunks = []
    hashed, problems, sums = hash_as_a_run_does(source, file_list, tmp_path, progress=lambda: chunks.append(1))
    assert len(problems) == 1 and problems[0].startswith("small.txt: changed since it was listed"), problems
    assert hashed == 1 and sums == {"same-size.txt": sha256("other!")}
    assert len(chunks) == 1, "the swapped file was read"


def test_a_fifo_in_place_of_a_file_does_not_block_the_hashing(tmp_path):
    source = tmp_path / "usb"
    make_files(source, {"a.txt": "a", "queue": "a file when listed"})
    file_list = walk(source, tmp_path)
    (source / "queue").unlink()
    os.mkfifo(source / "queue")
    hashed, problems, sums = hash_as_a_run_does(source, file_list, tmp_path, seconds=2)
    assert len(problems) == 1 and problems[0].startswith("queue: changed since it was listed"), problems
    assert hashed == 1 and sums == {"a.txt": sha256("a")}


def _append(path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"appended by the primary backup")


@pytest.mark.parametrize("change", [_append, lambda path: os.truncate(path, MIB // 2)], ids=["grows", "shrinks"])
def test_a_file_that_changes_while_it_is_hashed_is_still_named(tmp_path, change):
    source = tmp_path / "usb"
    make_files(source, {"busy.bin": os.urandom(3 * MIB + 5)})
    file_list = walk(source, tmp_path)
    hashed, problems, sums = hash_as_a_run_does(source, file_list, tmp_path,
                                                progress=lambda: change(source / "busy.bin"))
    assert (hashed, problems, sums) == (0, ["busy.bin: changed while being hashed"], {})


#: Names `str.splitlines` splits that rclone copies (U+2028, U+2029, U+0085), one of them forging a line ...
COPIED_LINE_BREAKING_NAMES = ["a\u2028b.txt", "c\u2029d.txt", "e\x85f.txt", f"notes\u2028{'0' * 64}  injected.txt"]
#: ... and C0 ones (\x1c-\x1e, VT, FF), which selection now refuses but a SHA256SUMS may still hold.
LINE_BREAKING_NAMES = [*COPIED_LINE_BREAKING_NAMES, "g\x1ch.txt", "i\x1dj.txt", "k\x1el.txt", "m\x0bn.txt",
                       "o\x0cp.txt"]


def test_sums_of_names_with_unicode_line_breaks_parse_back_to_exactly_those_names():
    sums = {name: sha256(name) for name in LINE_BREAKING_NAMES}
    assert integrity.parse(integrity.render(sums)) == sums


def test_sealed_sums_of_source_files_with_such_names_name_exactly_those_files(tmp_path):
    source = tmp_path / "usb"
    make_files(source, {name: name for name in COPIED_LINE_BREAKING_NAMES})
    hashed, problems, sums = hash_as_a_run_does(source, walk(source, tmp_path), tmp_path)
    assert (hashed, problems) == (len(COPIED_LINE_BREAKING_NAMES), [])
    assert sums == {name: sha256(name) for name in COPIED_LINE_BREAKING_NAMES}


def dated(name: str, days_ago: int = 0) -> str:
    return f"{name}_{(datetime.date.today() - datetime.timedelta(days=days_ago)).isoformat()}"


@pytest.mark.parametrize("replacement, named_as", [
    (os.urandom(3 * MIB), "small.txt"),  # rclone's --max-transfer cap may stop the copy first
    (b"HELLO\n", "small.txt: changed since it was listed (another file is in its place)"),  # no cap can see it
], ids=["bigger", "same-size"])
def test_a_file_swapped_between_selection_and_copy_fails_the_backup_and_keeps_old_copies(
        site, tmp_path, replacement, named_as):
    """Through the doit CLI: the file is swapped as soon as the frozen list names it, before hashing and copying
    start (both are new processes that follow the walk)."""
    source, destination = tmp_path / "usb", tmp_path / "nas"
    make_files(source, {"small.txt": "hello\n", "other.txt": "unchanged"})
    old = {folder.name: listing(folder) for folder in
           (make_dated_folder(destination / dated("usb1", age)) for age in (1, 2))}
    swap_in = tmp_path / "swap-in"  # outside the source, on its filesystem: the swap is one rename
    swap_in.write_bytes(replacement)
    site.write_config([{"name": "usb1", "source_dir": str(source), "rclone_path": str(destination),
                        "max_size_mb": 1, "retention": 1}])
    list_file = site.config_path.parent / "lists" / "usb1.files"
    swapped = threading.Event()

    def swap_once_listed():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not swapped.is_set():
            if list_file.exists() and b"small.txt\n" in list_file.read_bytes():
                os.replace(swap_in, source / "small.txt")
                swapped.set()
            time.sleep(0.001)

    swapper = threading.Thread(target=swap_once_listed)
    swapper.start()
    try:
        run = site.doit()
    finally:
        swapped.set()
        swapper.join()
    assert not swap_in.exists(), "the file was never swapped"
    assert run.returncode == 1, run.stdout + run.stderr
    assert named_as in run.stdout
    assert site.result("backup:usb1")["status"] == "failed"
    assert not (destination / dated("usb1") / "SHA256SUMS").exists()
    assert {folder.name: listing(folder) for folder in destination.iterdir()
            if folder.name != dated("usb1") and folder.is_dir()} == old
