"""Retention is a pure function: which dated folders survive, checked by examples and by properties."""

import datetime

from hypothesis import event, given
from hypothesis import strategies as st

from tasks.config import RetentionPolicy
from tasks.retention import folder_name, plan

TODAY = datetime.date(2026, 11, 22)  # a Sunday


def plan_all(backup, names, today, policy):
    """Retention when every folder is complete (has its SHA256SUMS)."""
    return plan(backup, names, today, policy, complete=set(names))


def days_ago(*offsets: int) -> list[str]:
    return [folder_name("web", TODAY - datetime.timedelta(days=n)) for n in offsets]


def test_keep_last_n_keeps_the_newest_and_deletes_the_rest_newest_first():
    decision = plan_all("web", days_ago(0, 1, 2, 3, 5), TODAY, RetentionPolicy(last=2))
    assert decision.keep == tuple(days_ago(0, 1))
    assert decision.delete == tuple(days_ago(2, 3, 5))


def test_todays_folder_is_always_kept_even_beyond_the_count():
    decision = plan_all("web", days_ago(0, 1, 2), TODAY, RetentionPolicy(last=1))
    assert days_ago(0)[0] in decision.keep


def test_other_backups_look_alikes_and_future_folders_are_never_touched():
    names = days_ago(0, 1, 2, 3) + [
        "web2_2026-11-01",            # another backup whose name starts with ours
        "other_2026-11-01",           # another backup
        "web_2026-13-45",             # shaped like a date, is not one
        "web_2026-11-30",             # in the future
        "web_2026-11-01.partial",     # not exactly our pattern
        "web_20261101", "web_", "web",
    ]
    decision = plan_all("web", names, TODAY, RetentionPolicy(last=1))
    assert decision.delete == tuple(days_ago(1, 2, 3))
    assert decision.ignored == ("web_2026-11-30", "web_2026-13-45")


def test_name_with_regex_characters_matches_only_itself():
    names = ["a.b_2026-11-01", "axb_2026-11-01", "a.b_2026-11-22"]
    decision = plan_all("a.b", names, TODAY, RetentionPolicy(last=1))
    assert decision.delete == ("a.b_2026-11-01",)


def test_daily_weekly_monthly_keep_the_newest_of_each_period():
    # one folder a day for 120 days
    names = days_ago(*range(120))
    decision = plan_all("web", names, TODAY, RetentionPolicy(last=1, days=3, weeks=3, months=3))
    kept = set(decision.keep)
    # days: the 3 newest days
    assert set(days_ago(0, 1, 2)) <= kept
    # weeks: newest of this ISO week (today, Sunday) and of the two before: the previous Sundays
    assert set(days_ago(7, 14)) <= kept
    # months: newest of November (today), October 31st, September 30th
    assert {"web_2026-10-31", "web_2026-09-30"} <= kept
    assert len(kept) == 3 + 2 + 2
    assert set(decision.delete) == set(names) - kept


def test_periods_count_only_periods_that_have_backups():
    # backups on three days spread over many months: retention_months=3 keeps all three
    names = ["web_2026-11-01", "web_2026-06-15", "web_2025-12-24"]
    decision = plan_all("web", names, TODAY, RetentionPolicy(last=1, months=3))
    assert decision.delete == ()


def test_rules_are_ored_with_the_count():
    names = days_ago(0, 1, 2, 3, 40)
    decision = plan_all("web", names, TODAY, RetentionPolicy(last=4, months=2))
    assert decision.keep == tuple(days_ago(0, 1, 2, 3, 40))


def test_a_rule_not_used_up_also_keeps_the_oldest_folder_as_restic_does():
    # restic >= 0.16: `--keep-weekly 4` over three days of history keeps the first day and the last
    names = days_ago(0, 1, 2)
    decision = plan_all("web", names, TODAY - datetime.timedelta(days=1), RetentionPolicy(last=1, weeks=4))
    assert decision.keep == tuple(days_ago(1, 2))
    decision = plan_all("web", names, TODAY, RetentionPolicy(last=1, weeks=4))
    assert decision.keep == tuple(days_ago(0, 2)) and decision.delete == tuple(days_ago(1))


def test_a_rule_used_up_does_not_keep_the_oldest_folder():
    names = days_ago(*range(10))
    decision = plan_all("web", names, TODAY, RetentionPolicy(last=1, days=3))
    assert decision.keep == tuple(days_ago(0, 1, 2))


def test_the_oldest_kept_is_the_oldest_complete_folder():
    decision = plan("web", days_ago(0, 1, 2), TODAY, RetentionPolicy(last=1, months=2), complete=set(days_ago(0, 2)))
    assert decision.keep == tuple(days_ago(0, 2)) and decision.delete == tuple(days_ago(1))


def test_incomplete_folders_never_count_and_never_push_out_complete_ones():
    names = days_ago(0, 1, 2, 3, 4)
    complete = set(days_ago(0, 3, 4))   # yesterday's and the day before's copies were interrupted
    decision = plan("web", names, TODAY, RetentionPolicy(last=2), complete)
    # keepers among complete folders: today and 3 days ago; the incomplete ones in the 2-newest window stay
    assert decision.keep == tuple(days_ago(0, 1, 3))
    assert decision.incomplete == tuple(days_ago(1))
    assert decision.delete == tuple(days_ago(2, 4))


def test_incomplete_folders_do_not_pile_up():
    names = days_ago(*range(30))
    complete = {days_ago(0)[0]}
    decision = plan("web", names, TODAY, RetentionPolicy(last=3), complete)
    assert decision.keep == tuple(days_ago(0, 1, 2))
    assert len(decision.delete) == 27


def test_an_incomplete_today_is_kept():
    decision = plan("web", days_ago(0, 1, 2), TODAY, RetentionPolicy(last=1), complete=set(days_ago(1, 2)))
    assert decision.keep == tuple(days_ago(0, 1)) and decision.incomplete == tuple(days_ago(0))


dates = st.dates(min_value=datetime.date(2020, 1, 1), max_value=datetime.date(2027, 12, 31))
policies = st.builds(RetentionPolicy, last=st.integers(1, 10), days=st.integers(0, 10),
                     weeks=st.integers(0, 10), months=st.integers(0, 10))
foreign = st.sampled_from(["other_2026-01-01", "web_2026-02-30", "web2_2026-01-01", "web_x", "weblog"])


@st.composite
def days_and_today(draw):
    """Folder dates, and a `today` that is mostly one of them (today's folder exists, as on every real run after
    the copy), sometimes the day after or before one of them, sometimes any date."""
    where = draw(st.sampled_from(["a folder's day"] * 3 + ["next to a folder", "anywhere"]))
    days = draw(st.sets(dates, min_size=0 if where == "anywhere" else 1, max_size=60))
    if where == "anywhere":
        return days, draw(dates)
    today = draw(st.sampled_from(sorted(days)))
    if where == "next to a folder":
        today += datetime.timedelta(days=draw(st.sampled_from([-1, 1])))
    return days, today


@given(days_and_today(), st.lists(foreign, max_size=5), policies, st.randoms(), st.booleans())
def test_properties(days_today, others, policy, rng, todays_sealed):
    days, today = days_today
    names = [folder_name("web", d) for d in days] + others
    complete = {name for name in names if rng.random() < 0.7}
    todays = folder_name("web", today)
    if todays in names:  # an interrupted copy leaves today's folder without SHA256SUMS
        complete = complete | {todays} if todays_sealed else complete - {todays}
    decision = plan("web", names, today, policy, complete)
    event("today's folder: " + ("absent" if todays not in names else "complete" if todays in complete
                                else "incomplete"))
    # today's folder, complete or not, is always kept and never deleted
    if todays in names:
        assert todays in decision.keep and todays not in decision.delete
        assert (todays in decision.incomplete) == (todays not in complete)
    valid = {folder_name("web", d) for d in days if d <= today}
    # keep and delete split exactly this backup's valid folders, nothing else is ever deleted
    assert set(decision.keep) | set(decision.delete) == valid
    assert not set(decision.keep) & set(decision.delete)
    # the newest `last` complete folders are kept (and today's: see above)
    newest_complete = sorted(valid & complete, reverse=True)[: policy.last]
    assert set(newest_complete) <= set(decision.keep)
    # incomplete keepers are reported; never more kept than the rules allow twice over (complete + window)
    assert set(decision.incomplete) == set(decision.keep) - complete
    assert len(decision.keep) <= 2 * (policy.last + policy.days + policy.weeks + policy.months) + 1
    assert decision.keep or not valid
    # restic's rule: a period rule with fewer periods than its count also keeps the oldest complete folder
    complete_days = sorted(datetime.date.fromisoformat(name[4:]) for name in valid & complete)
    for count, period in ((policy.days, lambda d: d), (policy.weeks, lambda d: d.isocalendar()[:2]),
                          (policy.months, lambda d: (d.year, d.month))):
        if complete_days and len({period(d) for d in complete_days}) < count:
            assert folder_name("web", complete_days[0]) in decision.keep
    # every deleted complete folder is older than every folder kept by the count among complete ones
    deleted_complete = set(decision.delete) & complete
    if deleted_complete and newest_complete:
        assert max(deleted_complete) < min(newest_complete)
