"""Several destinations and archives as the config states them, and how their outcomes are told as one: pure
decisions, no rclone (the runs themselves: tests/test_destinations.py, tests/test_archive.py)."""

from types import SimpleNamespace

import pytest
import yaml

from tasks import config, database_source, destinations, results
from tasks.job import Stop


def loaded(tmp_path, entry: dict, **settings) -> config.Config:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"min_free_gb": 10, **settings, "backup_copy_list": [
        {"name": "web", "source_dir": "/mnt/usb/web", **entry}]}))
    path.chmod(0o600)
    return config.read(path)


def test_a_destination_has_its_own_settings_and_the_backups_where_it_sets_none(tmp_path):
    found = loaded(tmp_path, {"retention": 4, "verify": "download", "rclone": {"flags": ["--bwlimit", "1M"]},
                              "destinations": [{"rclone_path": "box1:offsite"},
                                               {"rclone_path": "box2:offsite", "retention": 9, "min_free_gb": 1,
                                                "verify": "off", "rclone": {"flags": ["--transfers", "2"]}}]})
    assert not found.problems, found.report()
    backup = found.backups[0]
    first, second = backup.at(0), backup.at(1)
    assert (first.rclone_path, first.retention.last, first.verify, first.min_free_gb) == ("box1:offsite", 4,
                                                                                         "download", 10)
    assert (second.rclone_path, second.retention.last, second.verify, second.min_free_gb) == ("box2:offsite", 9,
                                                                                             "off", 1)
    assert first.rclone.flags == ("--bwlimit", "1M")
    assert second.rclone.flags == ("--bwlimit", "1M", "--transfers", "2")  # the backup's flags, then its own


def test_the_one_destination_short_form_still_works(tmp_path):
    backup = loaded(tmp_path, {"rclone_path": "box1:offsite"}).backups[0]
    assert [item.rclone_path for item in backup.destinations] == ["box1:offsite"]
    assert backup.rclone_path == "box1:offsite" and backup.mode == "dated"


@pytest.mark.parametrize("entry, problem", [
    ({"rclone_path": "a:", "destinations": [{"rclone_path": "b:"}]},
     "backup_copy_list[0] (web): give either `rclone_path` (one destination) or `destinations` (several), not both"),
    ({}, "backup_copy_list[0] (web): no destination: give `rclone_path` (one destination) or `destinations`"),
    ({"destinations": []}, "backup_copy_list[0] (web).destinations: min length is 1"),
    ({"destinations": [{"retention": 3}]}, "backup_copy_list[0] (web).destinations[0].rclone_path: required field"),
    ({"destinations": [{"rclone_path": "a:", "exclude": ["x"]}]},
     "backup_copy_list[0] (web).destinations[0].exclude: unknown field"),
    ({"rclone_path": "a:", "mode": "archive", "retention": 5},
     "backup_copy_list[0] (web).retention: `mode: archive` never deletes from the destination: remove this key"),
    ({"mode": "archive", "destinations": [{"rclone_path": "a:", "retention_days": 5}]},
     "backup_copy_list[0] (web).destinations[0].retention_days: `mode: archive` never deletes"),
    ({"rclone_path": "a:", "delete_source_after_archive": True},
     "backup_copy_list[0] (web).delete_source_after_archive: only with `mode: archive`"),
    ({"rclone_path": "a:", "mode": "cold"}, "backup_copy_list[0] (web).mode: unallowed value cold"),
    ({"destinations": [{"rclone_path": "a:x"}, {"rclone_path": "a:x"}]},
     "backup_copy_list[0] (web).destinations[1].rclone_path: 'a:x' is already a destination of this backup"),
    ({"rclone_path": ":sftp,host=h,pass=s3cret:repo", "engine": "restic"},
     "backup_copy_list[0] (web).rclone_path: restic would get this on-the-fly remote's options on its command line"),
])
def test_each_destination_mistake_is_named_where_it_is(tmp_path, entry, problem):
    found = loaded(tmp_path, entry)
    assert any(line.startswith(problem) for line in found.problems), found.report()
    assert found.unusable_backups == ("web",)


def test_an_archive_with_two_destinations_loads(tmp_path):
    found = loaded(tmp_path, {"mode": "archive", "delete_source_after_archive": True,
                              "destinations": [{"rclone_path": "box1:archive"}, {"rclone_path": "box2:archive"}]})
    assert not found.problems, found.report()
    assert found.backups[0].delete_source_after_archive and len(found.backups[0].destinations) == 2


def outcome(status: str, reason: str = "", *alerts: tuple[str, str]) -> results.Result:
    result = results.Result(task="backup:web", backup="web", run_id="r", status=status, reason=reason)
    for level, message in alerts:
        result.alerts.append(results.Alert(level=level, subject="backup:web", message=message))
    return result


def test_the_backup_is_as_bad_as_its_worst_destination_and_says_how_many_were_ok():
    into = outcome("ok")
    destinations.merge(into, [("a:", outcome("ok")), ("b:", outcome("failed", "copy failed")),
                              ("c:", outcome("warning", "slow"))])
    assert into.status == "failed"
    assert into.reason == "2 of 3 destinations ok; at b:: copy failed"
    assert [entry["where"] for entry in into.destinations] == ["a:", "b:", "c:"]


def test_a_skipped_destination_fails_a_backup_that_ran_elsewhere_but_all_skipped_stays_skipped():
    ran = outcome("ok")
    destinations.merge(ran, [("a:", outcome("ok")), ("b:", outcome("skipped", "check failed"))])
    assert ran.status == "failed" and ran.reason.startswith("1 of 2 destinations ok")
    none = outcome("ok")
    destinations.merge(none, [("a:", outcome("skipped", "x")), ("b:", outcome("skipped", "y"))])
    assert none.status == "skipped"


def test_an_alert_from_several_destinations_is_said_once_naming_them():
    into = outcome("ok")
    same = ("WARNING", "content not hash-checked")
    destinations.merge(into, [("a:", outcome("warning", "", same)), ("b:", outcome("warning", "", same)),
                              ("c:", outcome("ok", "", ("INFO", "pruned x")))])
    assert [alert.message for alert in into.alerts] == ["at a:, b:: content not hash-checked", "at c:: pruned x"]


@pytest.fixture
def backup(tmp_path):
    return loaded(tmp_path, {"destinations": [{"rclone_path": "box1:offsite"}, {"rclone_path": "box2:offsite"},
                                              {"rclone_path": "box2:other"}]}).backups[0]


@pytest.mark.parametrize("wanted, path", [(None, "box1:offsite"), ("2", "box2:offsite"), ("box1", "box1:offsite"),
                                          ("box2:other", "box2:other")])
def test_dest_picks_by_number_remote_or_path(backup, wanted, path):
    assert destinations.pick(backup, wanted).rclone_path == path


@pytest.mark.parametrize("wanted, problem", [("box2", "matches several destinations"), ("4", "names no destination"),
                                             ("0", "names no destination")])
def test_dest_that_is_ambiguous_or_unknown_lists_the_choices(backup, wanted, problem):
    with pytest.raises(Stop) as stopped:
        destinations.pick(backup, wanted)
    assert problem in stopped.value.message
    assert "dest=1: box1:offsite; dest=2: box2:offsite; dest=3: box2:other" in stopped.value.message


def test_emptying_the_staging_folder_never_follows_a_link_planted_in_its_place(tmp_path):
    """The staging folder is emptied after every run, also after a failed one; a symbolic link in its place (the
    check refuses it) must not make that delete the files it points to."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep me")
    staging = tmp_path / "staging" / "db"
    staging.parent.mkdir()
    staging.symlink_to(elsewhere)
    database_source.clear(SimpleNamespace(backup=SimpleNamespace(source_dir=staging)))
    assert (elsewhere / "precious.txt").read_text() == "keep me"
    staging.unlink()
    staging.mkdir()
    (staging / "old.sql.gz").write_bytes(b"x")
    database_source.clear(SimpleNamespace(backup=SimpleNamespace(source_dir=staging)))
    assert list(staging.iterdir()) == []
