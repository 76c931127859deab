"""Config validation: every rule gives a message naming the exact key, and good files load with defaults."""

import pytest
import yaml

from tasks import config
from tests.conftest import PROJECT

GOOD_BACKUP = {"name": "web1", "source_dir": "/mnt/usb/web1", "rclone_path": "onedrive:offsite"}


def load_text(tmp_path, text: str | bytes):
    path = tmp_path / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return config.load(path)


def load_document(tmp_path, document):
    return load_text(tmp_path, yaml.safe_dump(document))


def problems(tmp_path, document) -> str:
    with pytest.raises(config.ConfigError) as caught:
        load_document(tmp_path, document)
    return str(caught.value)


def test_minimal_config_gets_documented_defaults(tmp_path):
    settings = load_document(tmp_path, {"backup_copy_list": [GOOD_BACKUP]})
    (backup,) = settings.backups
    assert backup.max_size_mb == 1024 and backup.max_bytes == 1024 * 1024 * 1024
    assert backup.days == 0
    assert backup.retention == config.RetentionPolicy(last=2, days=0, weeks=0, months=0)
    assert backup.min_free_gb == 200
    assert settings.log_level == "INFO"
    assert settings.log_file == PROJECT / "log" / "backup.log"
    assert backup.rclone.config is None and backup.rclone.flags == ()
    assert backup.rclone.binary.endswith("rclone")


def test_days_absent_empty_or_zero_all_mean_every_file(tmp_path):
    for days in (0, None):
        settings = load_document(tmp_path, {"backup_copy_list": [{**GOOD_BACKUP, "days": days}]})
        assert settings.backups[0].days == 0


def test_per_backup_settings_override_and_extend_global_ones(tmp_path):
    settings = load_document(tmp_path, {
        "min_free_gb": 10, "rclone": {"config": "/etc/rclone.conf", "flags": ["--bwlimit", "1M"]},
        "backup_copy_list": [{**GOOD_BACKUP, "min_free_gb": 5, "rclone": {"flags": ["--transfers", "2"]}},
                             {**GOOD_BACKUP, "name": "web2"}],
    })
    first, second = settings.backups
    assert first.min_free_gb == 5 and second.min_free_gb == 10
    assert first.rclone.flags == ("--bwlimit", "1M", "--transfers", "2")
    assert second.rclone.flags == ("--bwlimit", "1M")
    assert first.rclone.config == "/etc/rclone.conf"


def test_relative_local_paths_are_relative_to_the_project_and_remotes_stay_as_written(tmp_path):
    settings = load_document(tmp_path, {"backup_copy_list": [
        {**GOOD_BACKUP, "source_dir": "var/demo/source", "rclone_path": "var/demo/destination"},
        {**GOOD_BACKUP, "name": "b", "rclone_path": ":sftp,host=h,pass='a:b':dir"},
    ]})
    local, remote = settings.backups
    assert local.source_dir == PROJECT / "var/demo/source"
    assert local.rclone_path == str(PROJECT / "var/demo/destination")
    assert remote.rclone_path == ":sftp,host=h,pass='a:b':dir"


@pytest.mark.parametrize("document, expected", [
    ({}, "backup_copy_list: required field"),
    ({"backup_copy_list": []}, "backup_copy_list: min length is 1"),
    ({"backup_copy_list": [GOOD_BACKUP, {"name": "b", "source_dir": "/x"}]},
     "backup_copy_list[1] (b): no destination: give `rclone_path` (one destination) or `destinations`"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "retension": 3}]}, "backup_copy_list[0] (web1).retension: unknown field"),
    ({"emails": ["a@b.c"], "backup_copy_list": [GOOD_BACKUP]}, "emails: unknown field"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "max_size_mb": -5}]},
     "backup_copy_list[0] (web1).max_size_mb: min value is 1"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "days": -1}]}, "backup_copy_list[0] (web1).days: min value is 0"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "retention": 0}]}, "backup_copy_list[0] (web1).retention: min value is 1"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "retention_weeks": -2}]},
     "backup_copy_list[0] (web1).retention_weeks: min value is 0"),
    ({"min_free_gb": -1, "backup_copy_list": [GOOD_BACKUP]}, "min_free_gb: min value is 0"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "days": "seven"}]},
     "backup_copy_list[0] (web1).days: must be of integer type"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "name": "web 1"}]},
     "backup_copy_list[0] (web 1).name: value does not match"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "name": "../up"}]},
     "backup_copy_list[0] (../up).name: value does not match"),
    ({"backup_copy_list": [GOOD_BACKUP, {**GOOD_BACKUP, "name": "WEB1"}]},
     "backup_copy_list[1] (WEB1).name: 'WEB1' is already used by backup_copy_list[0]"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "rclone_path": "one drive!:x"}]},
     "backup_copy_list[0] (web1).rclone_path: not a valid rclone destination"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "rclone_path": ":sftp host:x"}]},
     "backup_copy_list[0] (web1).rclone_path: not a valid rclone destination"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "rclone_path": ""}]},
     "backup_copy_list[0] (web1).rclone_path: empty values not allowed"),
    ({"rclone": {"flags": ["--max-age", "1d"]}, "backup_copy_list": [GOOD_BACKUP]},
     "rclone.flags: --max-age is not allowed here: it changes which files are copied"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "rclone": {"flags": ["--exclude=*.x"]}}]},
     "backup_copy_list[0] (web1).rclone.flags: --exclude is not allowed here: it changes which files are copied"),
    ({"log_level": "LOUD", "backup_copy_list": [GOOD_BACKUP]}, "log_level: unallowed value LOUD"),
    ({"email": "admin@example.com", "backup_copy_list": [GOOD_BACKUP]}, "email: must be of list type"),
    ({"email": ["not-an-address"], "backup_copy_list": [GOOD_BACKUP]},
     "email[0]: 'not-an-address' is not a mail address: write user@domain"),
    ({"backup_copy_list": [GOOD_BACKUP], "check_timeout_seconds": 0}, "check_timeout_seconds: min value is 1"),
    ({"rclone": {"flags": None}, "backup_copy_list": [GOOD_BACKUP]}, "rclone.flags: null value not allowed"),
    ({"backup_copy_list": [{**GOOD_BACKUP, "rclone_path": 5}]},
     "backup_copy_list[0] (web1).rclone_path: must be of string type"),
])
def test_each_rule_names_the_key_and_the_problem(tmp_path, document, expected):
    assert expected in problems(tmp_path, document)


def test_all_problems_are_reported_at_once(tmp_path):
    message = problems(tmp_path, {"backup_copy_list": [{"name": "a"}, {**GOOD_BACKUP, "days": -3}]})
    assert "3 problem(s)" in message
    for line in ("backup_copy_list[0] (a): no source: give `source_dir`", "backup_copy_list[0] (a): no destination",
                 "backup_copy_list[1] (web1).days: min value is 0"):
        assert line in message


@pytest.mark.parametrize("text, expected", [
    (b"", "the file is empty"),
    (b"# only a comment\n", "the file is empty"),
    (b"- a\n- b\n", "the top level must be a mapping"),
    (b"backup_copy_list: [\n", "line 2, column 1: YAML syntax error"),
    (b"email: [a@b.c]\n\tbad: tab\n", "YAML syntax error"),
    (b"log_file: caf\xe9.log\n", "line 1: not valid UTF-8 text (byte 0xe9)"),
])
def test_unreadable_files_get_a_clear_message(tmp_path, text, expected):
    with pytest.raises(config.ConfigError) as caught:
        load_text(tmp_path, text)
    assert expected in str(caught.value)
    assert str(tmp_path / "config.yaml") in str(caught.value)


def test_missing_file_says_how_to_start(tmp_path):
    with pytest.raises(config.ConfigError, match="not found: copy var/config.example.yaml"):
        config.load(tmp_path / "nope.yaml")
