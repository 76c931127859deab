"""Which files go to the server-side copy, decided without rclone (pure functions of tasks.reuse)."""

import datetime

from tasks import reuse

TODAY = datetime.date(2026, 12, 2)
SUMS = {"same": "1" * 64, "edited": "2" * 64, "gone-there": "3" * 64}
EARLIER = reuse.Reference("b_2026-12-01", "remote:b_2026-12-01",
                          {"same": "1" * 64, "edited": "f" * 64, "only-there": "4" * 64})
LISTED = [("same", 10), ("edited", 20), ("gone-there", 30), ("new", 40)]


def by_role(batches):
    return {("server" if batch.copy_dest else "force" if batch.no_check_dest else "plain"): batch.paths
            for batch in batches}


def test_only_files_whose_sha256_matches_the_sealed_folder_are_copied_on_the_server():
    batches = reuse.batches(LISTED, {**SUMS, "new": "5" * 64}, EARLIER, {}, compares_content=True)
    assert by_role(batches) == {"server": ["same"], "plain": ["edited", "gone-there", "new"]}
    server = next(batch for batch in batches if batch.copy_dest)
    assert (server.copy_dest, server.bytes) == ("remote:b_2026-12-01", 10)


def test_a_file_without_a_sum_is_never_copied_on_the_server():
    batches = reuse.batches(LISTED, {}, EARLIER, {}, compares_content=True)
    assert by_role(batches) == {"plain": ["same", "edited", "gone-there", "new"]}


def test_where_rclone_cannot_compare_content_only_files_proven_in_todays_folder_are_left_to_it():
    todays = {"edited": "2" * 64, "new": "0" * 64}  # an earlier run today sealed `edited` as it is now
    batches = reuse.batches(LISTED, {**SUMS, "new": "5" * 64}, EARLIER, todays, compares_content=False)
    assert by_role(batches) == {"server": ["same"], "force": ["gone-there", "new"], "plain": ["edited"]}
    assert all(batch.no_check_dest for batch in batches if batch.copy_dest)


def test_without_an_earlier_folder_everything_is_uploaded_in_one_batch():
    batches = reuse.batches(LISTED, SUMS, None, {}, compares_content=True)
    assert by_role(batches) == {"plain": ["same", "edited", "gone-there", "new"]}
    assert batches[0].bytes == 100


def test_the_model_is_the_newest_sealed_folder_before_today():
    names = ["b_2026-11-29", "b_2026-11-30", "b_2026-12-01", "b_2026-12-02", "b_2026-12-03", "bb_2026-12-01",
             "b_latest"]
    sealed = {"b_2026-11-29", "b_2026-11-30", "b_2026-12-02", "b_2026-12-03", "bb_2026-12-01", "b_latest"}
    assert reuse.newest_sealed("b", names, sealed, TODAY) == "b_2026-11-30"  # 12-01 is incomplete
    assert reuse.newest_sealed("b", names, set(), TODAY) is None
    assert reuse.newest_sealed("b", ["b_2026-12-02"], {"b_2026-12-02"}, TODAY) is None  # never today's
