"""What a new administrator writes, as the docs write it, loads; and what is wrong is said in words that show the
fix: the backup's name, what the key means, what a valid value looks like."""

import pytest
import yaml

from tasks import config, schema, validation
from tasks.config_yaml import read as read_yaml

BACKUP = {"name": "contabo1", "source_dir": "/mnt/usb1/backups/contabo1", "rclone_path": "onedrive:offsite"}
#: Every section a word-valued key lives in, so that each can be set in a document that is otherwise sound.
BASE = {"email": ["admin@example.com"], "notifications": {"smtp": {"host": "localhost", "from": "backup@example.com"}},
        "backup_copy_list": [BACKUP]}
PLACEHOLDER = "WORD-GOES-HERE"


def word_valued_keys(rules: dict, position=()) -> list[tuple]:
    """(position, allowed words) of every key of the schema that takes one of a list of words (`allowed`)."""
    found = [(position, rules["allowed"])] if position and "allowed" in rules else []
    inner = rules.get("schema")
    if rules.get("type") == "list" and isinstance(inner, dict):
        found += word_valued_keys(inner, (*position, 0))
    elif isinstance(inner, dict):
        for name, child in inner.items():
            found += word_valued_keys(child, (*position, name))
    return found


ALLOWED = dict(word_valued_keys({"type": "dict", "schema": schema.SCHEMA}))
WORD_VALUED = [(position, word) for position, words in ALLOWED.items() for word in words]


def at(document, position):
    for part in position:
        document = document[part]
    return document


def written(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_word_valued_keys_include_those_new_users_tripped_over():
    positions = {position for position, _ in WORD_VALUED}
    assert {("log_level",), ("backup_copy_list", 0, "verify"), ("notifications", "smtp", "security")} <= positions
    assert ("backup_copy_list", 0, "verify") in positions and (("backup_copy_list", 0, "verify"), "off") in WORD_VALUED


@pytest.mark.parametrize("position, word", WORD_VALUED, ids=lambda value: ".".join(map(str, value))
                         if isinstance(value, tuple) else value)
def test_every_allowed_word_loads_unquoted_as_the_docs_write_it(tmp_path, monkeypatch, position, word):
    """YAML 1.1 reads a bare off/on/yes/no as a boolean: `verify: off` must still mean `off`."""
    document = yaml.safe_load(yaml.safe_dump(BASE))
    entry = document["backup_copy_list"][0]
    if "destinations" in position:  # the entry's one destination as an item of `destinations`
        entry["destinations"] = [{"rclone_path": entry.pop("rclone_path")}]
    if "database" in position:  # a database instead of the folder, its password in the environment
        entry.pop("source_dir")
        entry["database"] = {"user": "backup"}
    parent = at(document, position[:-1])
    parent[position[-1]] = PLACEHOLDER
    text = yaml.safe_dump(document).replace(PLACEHOLDER, word)
    assert f": {word}\n" in text  # unquoted, as in the README and var/config.example.yaml
    path = written(tmp_path, text)
    monkeypatch.setenv("MARIADB_PASSWORD", "s3cret-db-pass")
    found = config.read(path)
    # the word itself is accepted (`secrets_backend: keyring` may still find no keyring file: another problem)
    assert not [line for line in found.problems if str(position[-1]) in line.split(":")[0]], found.report()
    settings = validation.sound_parts(read_yaml(path)[0], [])
    assert at(settings, position) == word


def test_verify_off_reaches_the_backup(tmp_path):
    path = written(tmp_path, "backup_copy_list:\n  - name: b\n    source_dir: /x\n    rclone_path: 'r:'\n"
                             "    verify: off\n")
    assert config.load(path).backups[0].verify == "off"


def test_a_local_mailbox_is_a_recipient(tmp_path):
    path = written(tmp_path, yaml.safe_dump({**BASE, "email": ["root@localhost", "admin@example.com"]}))
    assert config.load(path).notifications.recipients == ("root@localhost", "admin@example.com")


@pytest.mark.parametrize("address", ["root", "root@", "@localhost", "a@b.", "a@.b", "a b@example.com", "a@b@c"])
def test_a_bad_address_is_told_what_a_valid_one_looks_like(tmp_path, address):
    found = config.read(written(tmp_path, yaml.safe_dump({**BASE, "email": [address]})))
    assert (f"email[0]: {address!r} is not a mail address: write user@domain (admin@example.com) or, for a local "
            "mailbox, user@host (root@localhost)") in found.problems


MAIL_WARNING = ("email lists recipients but no mail channel is configured (notifications.sendgrid or "
                "notifications.smtp)")


@pytest.mark.parametrize("document, warned", [
    ({"email": ["admin@example.com"], "backup_copy_list": [BACKUP]}, True),
    ({"email": ["admin@example.com"], "notifications": {"attempts": 2}, "backup_copy_list": [BACKUP]}, True),
    (BASE, False),
    ({"backup_copy_list": [BACKUP]}, False),
])
def test_recipients_without_a_mail_channel_are_a_warning(tmp_path, document, warned):
    found = config.read(written(tmp_path, yaml.safe_dump(document)))
    assert found.problems == ()
    assert (MAIL_WARNING in found.warnings) is warned


def test_a_problem_names_the_backup_and_what_the_key_means(tmp_path):
    entries = [{**BACKUP, "name": "a"}, {**BACKUP, "name": "b"}, {**BACKUP, "days": -1}, {"days": 1}]
    found = config.read(written(tmp_path, yaml.safe_dump({"backup_copy_list": entries})))
    assert ("backup_copy_list[2] (contabo1).days: min value is 0 (copy only files modified in the last `days` × 24 "
            "hours; 0, empty or absent: all files; e.g. 1)") in found.problems
    # an entry without a name keeps its position only; an example shows what to write
    assert ('backup_copy_list[3]: no destination: give `rclone_path` (one destination) or `destinations` '
            '(several)') in found.problems


def test_a_key_the_schema_does_not_know_gets_no_made_up_hint(tmp_path):
    found = config.read(written(tmp_path, yaml.safe_dump({"backup_copy_list": [{**BACKUP, "retension": 3}]})))
    assert found.problems == ("backup_copy_list[0] (contabo1).retension: unknown field",)
