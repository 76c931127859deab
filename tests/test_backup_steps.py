"""The safety rules of one backup's steps, fast: the source is real, rclone is a recording stand-in for our own
wrapper's interface (what rclone really answers is tested against real rclone elsewhere).

The rule under test everywhere: nothing is pruned unless this run's copy was confirmed, verified and sealed.
"""

import contextlib
import datetime
import socket

import pytest

from tasks import copying, host_marker, pruning, results, reuse, source_sums
from tasks import rclone as rc
from tasks.actions import backup as backup_action
from tasks.job import Stop, perform
from tasks.pruning import TodaysCopy, may_prune
from tests.conftest import make_files, make_job

MIB = 1024 * 1024


class RecordingRclone:
    """Answers the calls a backup makes as a healthy remote this host already writes to would, unless told
    otherwise; records every call."""

    def __init__(self, today_folder: str, old_folders: list[str]):
        self.calls = []
        self.today_folder = today_folder
        self.dated = [*old_folders, today_folder]
        self.copy_outcome = None          # None: every listed file copied
        self.check_outcome = None         # None: every listed file matched
        self.upload_error = None
        self.sealed = set(old_folders)
        self.remote_features = rc.Features(copy=False, hashes=frozenset({"md5"}), modtime=True)

    def __getattr__(self, name):
        raise AssertionError(f"the backup called rclone.{name}, which this stand-in does not know")

    def read_text(self, path):
        self.calls.append(("read_text", path))

    def delete_file(self, path):
        self.calls.append(("delete_file", path))

    def delete_partials(self, folder):
        self.calls.append(("delete_partials", folder))

    def features(self, path):
        return self.remote_features

    def copy(self, source, destination, file_list, log, max_bytes=None, progress=None, copy_dest=None,
             no_check_dest=False, ignore_existing=False):
        self.calls.append(("copy", destination))
        self.max_bytes = max_bytes
        if self.copy_outcome:
            return self.copy_outcome
        listed = len(file_list.read_text().splitlines())
        return rc.CopyOutcome(returncode=0, copied=listed, replaced=0, checks=0, bytes=0, errors=0, messages=())

    def check(self, source, destination, file_list, download, report):
        self.calls.append(("check", destination))
        listed = len(file_list.read_text().splitlines())
        return self.check_outcome or rc.CheckOutcome(matched=listed, differ=(), missing=(), errors=(),
                                                     hash_checked=True)

    def checksum(self, sum_file, folder, download, report, hash_type="sha256"):
        """The verification against this run's own sums: answered like `check`, one line of sums per file."""
        return self.check(None, folder, sum_file, download, report)

    def upload(self, local_file, path):
        self.calls.append(("upload", path))
        if self.upload_error:
            raise self.upload_error
        self.sealed.add(self.today_folder)

    def folders(self, path, name):
        self.calls.append(("folders", path))
        return rc.Listing(list(self.dated), set(self.sealed), {host_marker.name_for("b", socket.gethostname())})

    def purge(self, path):
        self.calls.append(("purge", path))

    def called(self, name) -> list:
        return [call for call in self.calls if call[0] == name]


def folder(days_ago: int) -> str:
    return f"b_{(datetime.date.today() - datetime.timedelta(days=days_ago)).isoformat()}"


@pytest.fixture
def job(tmp_path):
    """A backup `b` of a small real source with three old sealed folders and `retention: 2`: a run that goes
    through prunes two of them."""
    source, state = tmp_path / "source", tmp_path / "state"
    make_files(source, {"a.txt": "alpha", "sub/b.txt": "beta"})
    state.mkdir()
    made = make_job(state, source, tmp_path / "nas", retention=2)
    made.rclone = RecordingRclone(folder(0), [folder(3), folder(2), folder(1)])
    for check in backup_action.CHECKS:
        results.write(made.run.results_dir, results.Result(task=f"{check}:b", backup="b", run_id=made.run.run_id))
    return made


def back_up(job):
    return perform(job, backup_action.back_up)


def test_a_good_run_copies_verifies_seals_and_only_then_prunes(job):
    result = back_up(job)
    assert result.status == "ok", result.reason
    order = [name for name, _ in job.rclone.calls]
    assert order.index("copy") < order.index("check") < order.index("upload") < order.index("purge")
    assert job.rclone.max_bytes == len("alpha") + len("beta")  # the copy is capped at what was selected
    assert sorted(path for _, path in job.rclone.called("purge")) == [f"{job.backup.rclone_path}/{folder(3)}",
                                                                      f"{job.backup.rclone_path}/{folder(2)}"]


def test_a_failed_copy_prunes_nothing_and_says_old_copies_are_kept(job):
    job.rclone.copy_outcome = rc.CopyOutcome(returncode=1, copied=1, replaced=0, checks=0, bytes=5, errors=1,
                                             messages=("b.txt: connection reset",))
    result = back_up(job)
    assert result.status == "failed"
    assert not job.rclone.called("purge") and not job.rclone.called("upload")
    assert "copy to" in result.reason and "Old copies are kept" in result.reason


def test_files_rclone_did_not_account_for_block_the_seal_and_pruning(job):
    job.rclone.copy_outcome = rc.CopyOutcome(returncode=0, copied=1, replaced=0, checks=0, bytes=5, errors=0,
                                             messages=())
    job.rclone.check_outcome = rc.CheckOutcome(matched=1, differ=(), missing=("sub/b.txt",), errors=(),
                                               hash_checked=True)
    result = back_up(job)
    assert result.status == "failed" and "accounted for 1 of the 2 selected files" in result.reason
    assert "not at the destination: sub/b.txt" in result.reason
    assert not job.rclone.called("upload") and not job.rclone.called("purge")


def test_a_file_that_differs_after_the_copy_blocks_the_seal_and_pruning(job):
    job.rclone.check_outcome = rc.CheckOutcome(matched=1, differ=("sub/b.txt",), missing=(), errors=(),
                                               hash_checked=True)
    result = back_up(job)
    assert result.status == "failed" and "1 differ (sub/b.txt)" in result.reason
    assert not job.rclone.called("upload") and not job.rclone.called("purge")


def test_a_comparison_that_saw_fewer_files_than_listed_blocks_the_seal_and_pruning(job):
    job.rclone.check_outcome = rc.CheckOutcome(matched=1, differ=(), missing=(), errors=(), hash_checked=True)
    result = back_up(job)
    assert result.status == "failed" and "compared 1 of the 2 listed files" in result.reason
    assert not job.rclone.called("upload") and not job.rclone.called("purge")


def test_a_seal_that_cannot_be_written_prunes_nothing(job):
    job.rclone.upload_error = rc.RcloneError("cannot write SHA256SUMS: disk full")
    result = back_up(job)
    assert result.status == "failed" and "cannot write SHA256SUMS" in result.reason
    assert not job.rclone.called("purge")


def test_todays_folder_not_listed_as_sealed_after_the_copy_prunes_nothing(job):
    job.rclone.upload = lambda local_file, path: job.rclone.calls.append(("upload", path))  # lost on the way
    result = back_up(job)
    assert result.status == "warning" and "nothing pruned" in result.reason
    assert not job.rclone.called("purge")


def test_files_changed_while_hashed_block_the_seal_and_pruning(job):
    with pytest.raises(Stop, match="1 files changed or vanished during the copy"):
        source_sums.require_all_hashed(job, {"hashed": 1, "problems": ["a.txt: changed while being hashed"]})


def test_a_failed_check_skips_the_backup_before_anything_is_copied(job):
    results.write(job.run.results_dir, results.Result(task="check_space:b", backup="b", run_id=job.run.run_id,
                                                      status="failed", reason="only 1 GiB free"))
    result = back_up(job)
    assert result.status == "skipped" and "check_space:b failed: only 1 GiB free" in result.reason
    assert "Nothing copied, nothing pruned" in result.reason
    assert job.rclone.calls == []


@pytest.mark.parametrize("copy", [TodaysCopy(), TodaysCopy(confirmed=True, verified=True),
                                  TodaysCopy(confirmed=True, sealed=True), TodaysCopy(verified=True, sealed=True)])
def test_pruning_refuses_a_copy_not_proven_complete(job, copy):
    assert not may_prune(copy, dry_run=False)
    with pytest.raises(Stop, match="refusing to prune"):
        pruning.prune(job, copy)
    assert not job.rclone.called("purge")


def test_a_proven_copy_may_be_pruned_and_a_dry_run_may_show_what_would_go(job):
    assert may_prune(TodaysCopy(confirmed=True, verified=True, sealed=True), dry_run=False)
    assert may_prune(TodaysCopy(), dry_run=True)


def test_a_dry_run_copies_and_deletes_nothing_but_names_what_it_would_prune(job):
    job.run = job.run.__class__(**{**job.run.__dict__, "dry_run": True})
    result = back_up(job)
    assert result.status == "ok"
    assert not job.rclone.called("copy") and not job.rclone.called("purge")
    assert result.pruned == [folder(2), folder(3)]


def job_over(tmp_path, files: dict, **limits):
    """A job whose source holds `files`, under the given limits (max_files, max_size_mb)."""
    make_files(tmp_path / "src", files)
    (tmp_path / "state").mkdir()
    return make_job(tmp_path / "state", tmp_path / "src", tmp_path / "nas", **limits)


@pytest.mark.parametrize("files, refusal", [(2, None), (3, "3 files selected, more than max_files 2")])
def test_max_files_refuses_more_files_than_it_allows(tmp_path, files, refusal):
    job = job_over(tmp_path, {f"f{number}": "x" for number in range(files)}, max_files=2)
    with pytest.raises(Stop, match=refusal) if refusal else contextlib.nullcontext():
        assert backup_action.select(job).files == files


@pytest.mark.parametrize("extra_bytes, refusal", [(0, None), (1, "exceed max_size_mb 1")])
def test_the_size_cap_refuses_only_what_exceeds_it(tmp_path, extra_bytes, refusal):
    job = job_over(tmp_path, {"big.bin": b"x" * (MIB - 10 + extra_bytes), "small.txt": "0123456789"},
                   max_size_mb=1)
    with pytest.raises(Stop, match=refusal) if refusal else contextlib.nullcontext():
        assert backup_action.select(job).bytes == MIB


class FailingServerSideCopy(RecordingRclone):
    """A remote that says it copies on the server, and fails every such copy (or stops at the size cap)."""

    def __init__(self, server_side_returncode: int):
        super().__init__(folder(0), [])
        self.remote_features = rc.Features(copy=True, hashes=frozenset({"md5"}), modtime=True)
        self.server_side_returncode = server_side_returncode
        self.copy_dests = []

    def copy(self, source, destination, file_list, log, max_bytes=None, progress=None, copy_dest=None,
             no_check_dest=False, ignore_existing=False):
        self.copy_dests.append(copy_dest)
        if copy_dest:
            return rc.CopyOutcome(returncode=self.server_side_returncode, copied=0, replaced=0, checks=0, bytes=0,
                                  errors=1, messages=("a.txt: server-side copy refused",))
        return super().copy(source, destination, file_list, log, max_bytes, progress)

    def copy_failed(self, path):
        self.calls.append(("copy_failed", path))


@pytest.fixture
def server_side_batch(job):
    batch = reuse.Batch(copy_dest="remote:b_yesterday")
    batch.add("a.txt", 5)
    return batch


def test_a_failed_server_side_copy_is_uploaded_instead_and_warned_about(job, server_side_batch):
    job.rclone = FailingServerSideCopy(server_side_returncode=1)
    outcome = copying.copy_batches(job, "remote:b_today", [server_side_batch], files=1)
    assert job.rclone.copy_dests == ["remote:b_yesterday", None] and outcome.copied == 1
    assert job.rclone.called("copy_failed")
    assert [alert.level for alert in job.result.alerts] == ["WARNING"]
    assert "offers server-side copy but its server-side copy failed" in job.result.alerts[0].message


@pytest.mark.parametrize("returncode", [rc.MAX_TRANSFER_REACHED, rc.STOPPED])
def test_a_server_side_copy_stopped_at_the_size_cap_or_by_the_watchdog_is_not_tried_again(
        job, server_side_batch, returncode):
    job.rclone = FailingServerSideCopy(server_side_returncode=returncode)
    with pytest.raises(Stop, match="failed"):
        copying.copy_batches(job, "remote:b_today", [server_side_batch], files=1)
    assert job.rclone.copy_dests == ["remote:b_yesterday"] and not job.rclone.called("copy_failed")
