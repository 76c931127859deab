"""A database server as a backup's source, end to end through the real doit CLI against a real MariaDB server of the
test's own (the `mariadb` fixture, on a private socket, or on 127.0.0.1 for host+port).

What is proven:
- a full run dumps each chosen database (and none of the server's own schemas) as `<db>.sql.gz` into the dated
  folder, sealed with SHA256SUMS; the summary and the result say what was dumped with the sizes of the files; the
  staging folder is empty afterwards; a password with `#`, quotes and a backslash works and appears in no log, result,
  output, command line or child environment (only in a 0600 option file that is gone after the run);
- such a dump restores to the same rows, with its routines, trigger and event;
- `databases: [a]` dumps only a; `compression: zstd` (over TCP, host+port) gives a `.sql.zst` that `zstd -d` turns
  back into a complete SQL dump;
- a refused login, a server that is down, a chosen database that is gone, a user that may not dump: the check says
  so, the run exits 1, the backup is skipped and no earlier copy is pruned;
- a database dropped between the check and its dump fails the backup naming it and the server's words, nothing is
  copied or pruned and the staging folder is emptied;
- a missing password secret is named by `doit list` and refuses the run, while `secret_set` knows the name;
- `source_dir` and `database` together (or neither) are a config problem;
- a dry run dumps and copies nothing and says how many databases it would dump;
- the dump is one consistent snapshot that locks no writer out: rows committed while it runs are in no table of it.

A database reached by port alone goes over TCP to that port; a database whose name holds a path or looks like an
option is dumped into a plain file name inside the staging folder and never read as an option.
"""

import datetime
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tasks.summary import format_bytes
from tests.conftest import listing, make_dated_folder, sealed_listing

#: `#` starts a comment in an option file unless quoted; quotes and a backslash must survive the quoting too.
PASSWORD = "d#mp 'pa\"ss\\w0rd"
USER = "dumper"
DUMP = shutil.which("mariadb-dump") or "mariadb-dump"
CLIENT = shutil.which("mariadb") or "mariadb"


def dated(name: str, days_ago: int = 0) -> str:
    return f"{name}_{(datetime.date.today() - datetime.timedelta(days=days_ago)).isoformat()}"


def db_backup(name: str, server, destination: Path, staging: Path, tcp: bool = False, retention: int = 2,
              **database) -> dict:
    """A backup entry dumping `server` as USER into `destination`, its dumps staged below `staging`."""
    place = {"host": "127.0.0.1", "port": server.port} if tcp else {"socket": str(server.socket)}
    return {"name": name, "rclone_path": str(destination), "retention": retention,
            "database": {**place, "user": USER, "staging_dir": str(staging), **database}}


def tcp_server(folder: Path):
    """A second server, on 127.0.0.1 at a port of its own (skipped where the mariadb fixture would be)."""
    from scripts.mariadb_server import MARIADBD, serve

    if not os.access(MARIADBD, os.X_OK) or not shutil.which("mariadb-install-db"):
        pytest.skip("needs Debian's mariadb-server: scripts/test.sh installs it when run as root")
    return serve(folder, tcp=True)


@pytest.fixture
def places(tmp_path):
    """The destination folder (it must exist) and the staging folder."""
    destination = tmp_path / "nas"
    destination.mkdir()
    return destination, tmp_path / "staging"


def run(site, *args, password: str | None = PASSWORD):
    env = {"MARIADB_PASSWORD": password} if password is not None else {}
    return site.doit(*args, env=env)


def recording_wrapper(path: Path, real: str, record: Path, before: str = "") -> Path:
    """A stand-in for `real` that appends its arguments, the mode of the option file it was given and its
    environment to `record`, runs `before` (shell), then execs `real` with the same arguments."""
    path.write_text(f"""#!/bin/sh
options="${{1#--defaults-extra-file=}}"
{{
  echo "ARGS: $*"
  echo "MODE: $(stat -c %a "$options")"
  echo "ENV: $(env | tr '\\n' ' ')"
}} >> {record}
{before}
exec {real} "$@"
""")
    path.chmod(0o700)
    return path


def everything_written(site) -> str:
    """The log, every result file and every other state file, as text."""
    state = site.config_path.parent
    texts = [site.log_file.read_text(errors="replace")]
    texts += [file.read_text(errors="replace") for file in state.rglob("*") if file.is_file()]
    return "\n".join(texts)


def test_a_full_run_dumps_seals_and_restores_each_database_and_never_shows_the_password(
        site, mariadb, places, tmp_path):
    destination, staging = places
    mariadb.fill("shop", rows=4)
    mariadb.fill("wiki", rows=9)  # another size: each dump's size is its own file's
    mariadb.fill("hidden", rows=1)  # not granted to the dump user: not seen, not dumped
    mariadb.create_user(USER, PASSWORD, ["shop", "wiki"])
    before = {name: mariadb.contents(name) for name in ("shop", "wiki")}
    record = tmp_path / "calls.txt"
    site.write_config([db_backup(
        "db", mariadb, destination, staging,
        dump_binary=str(recording_wrapper(tmp_path / "dump.sh", DUMP, record)),
        client_binary=str(recording_wrapper(tmp_path / "client.sh", CLIENT, record)))],
        secrets_file=str(tmp_path / "secrets.env"))
    done = run(site)
    assert done.returncode == 0, done.stdout + done.stderr

    copied = sealed_listing(destination / dated("db"))
    assert sorted(copied) == ["shop.sql.gz", "wiki.sql.gz"]  # no information_schema, mysql, hidden
    result = site.result("backup:db")
    assert result["status"] == "ok"
    dumps = result["metrics"]["dumps"]
    assert [(dump["database"], dump["bytes"]) for dump in dumps] == [
        (name, len(copied[f"{name}.sql.gz"])) for name in ("shop", "wiki")]
    assert all(dump["seconds"] >= 0 for dump in dumps)
    shop, wiki = (re.escape(format_bytes(dump["bytes"])) for dump in dumps)
    assert re.search(rf"^ +dumped shop {shop} in \d+\.\d s, wiki {wiki} in \d+\.\d s$", done.stdout, re.MULTILINE), \
        done.stdout
    assert (staging / "db").is_dir() and list((staging / "db").iterdir()) == []

    # the password: only ever in an option file of mode 0600, named first, gone afterwards
    calls = record.read_text()
    assert calls.count("ARGS: --defaults-extra-file=") == calls.count("ARGS: ") >= 4
    assert set(re.findall(r"^MODE: (\d+)$", calls, re.MULTILINE)) == {"600"}
    assert "--no-data --databases -- shop" in calls and "--no-data --databases -- wiki" in calls  # the check's dumps
    for name in ("shop", "wiki"):
        assert (" --single-transaction --quick --routines --events --triggers --hex-blob "
                f"--default-character-set=utf8mb4 --databases -- {name}\n") in calls
    written = everything_written(site)
    for secret in (PASSWORD, "d#mp", "w0rd"):
        assert secret not in calls  # neither on a command line nor in the tools' environment
        assert secret not in written and secret not in done.stdout + done.stderr
    assert not list(site.config_path.parent.rglob("*.cnf"))

    # restore: the dump of shop, loaded after dropping shop, gives back every row, routine, trigger and event
    mariadb.sql("DROP DATABASE shop")
    mariadb.sql(gzip.decompress(copied["shop.sql.gz"]))
    assert mariadb.contents("shop") == before["shop"]
    assert mariadb.sql("CALL count_items(@n); SELECT @n, with_tax(10)", "shop") == "4\t12.00\n"
    assert mariadb.sql("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop';"
                       "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop'"
                       ) == "items_audit\npurge_audit\n"
    assert b"CREATE DATABASE" in gzip.decompress(copied["wiki.sql.gz"])


def alerts(result: dict, level: str | None = None) -> list[str]:
    return [alert["message"] for alert in result["alerts"] if level in (None, alert["level"])]


def old_copies(destination: Path, name: str = "db") -> dict:
    """Two sealed dated folders of earlier runs; with `retention: 1` a run that goes through prunes them."""
    for days_ago in (3, 4):
        make_dated_folder(destination / dated(name, days_ago))
    return {folder.name: listing(folder) for folder in destination.iterdir()}


def assert_skipped_untouched(site, done, destination: Path, before: dict, staging: Path) -> None:
    """Exit 1, the backup skipped for its check, no new folder and every earlier one as it was."""
    assert done.returncode == 1, done.stdout + done.stderr
    backup = site.result("backup:db")
    assert backup["status"] == "skipped" and "check_mounts:db failed" in backup["reason"]
    assert {folder.name: listing(folder) for folder in destination.iterdir()} == before
    assert not (staging / "db").exists() or list((staging / "db").iterdir()) == []
    assert "Traceback" not in done.stdout + done.stderr


def test_only_the_listed_database_is_dumped_and_zstd_over_tcp_gives_a_complete_sql_dump(site, places, tmp_path):
    if not shutil.which("zstd"):
        pytest.skip("needs zstd")
    destination, staging = places
    server = tcp_server(tmp_path / "tcp")
    try:
        server.fill("shop", rows=2)
        server.fill("wiki", rows=2)
        server.create_user(USER, PASSWORD, ["shop", "wiki"])
        site.write_config([db_backup("db", server, destination, staging, tcp=True, databases=["shop"],
                                     compression="zstd")], secrets_file=str(tmp_path / "secrets.env"))
        done = run(site)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    copied = sealed_listing(destination / dated("db"))
    assert sorted(copied) == ["shop.sql.zst"]
    (tmp_path / "shop.sql.zst").write_bytes(copied["shop.sql.zst"])
    unpacked = subprocess.run(["zstd", "-d", "-c", str(tmp_path / "shop.sql.zst")], capture_output=True)
    assert unpacked.returncode == 0, unpacked.stderr
    sql = unpacked.stdout.decode()
    assert "\n-- MariaDB dump " in sql[:200] and sql.rstrip().splitlines()[-1].startswith("-- Dump completed on")
    assert "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`" in sql and "INSERT INTO `items`" in sql
    assert "`wiki`" not in sql
    assert [dump["database"] for dump in site.result("backup:db")["metrics"]["dumps"]] == ["shop"]


def configured_over_old_copies(site, mariadb, places, tmp_path) -> dict:
    """Backup `db` (retention 1) to a destination that holds older sealed copies; what those copies hold."""
    destination, staging = places
    before = old_copies(destination)
    site.write_config([db_backup("db", mariadb, destination, staging, retention=1)],
                      secrets_file=str(tmp_path / "secrets.env"))
    return before


def test_a_wrong_password_is_critical_and_prunes_nothing(site, mariadb, places, tmp_path):
    destination, staging = places
    mariadb.fill("shop", rows=1)
    mariadb.create_user(USER, PASSWORD, ["shop"])
    before = configured_over_old_copies(site, mariadb, places, tmp_path)
    done = run(site, password="not-the-password")
    check = site.result("check_mounts:db")
    assert check["status"] == "failed"
    assert any(f"Access denied for user '{USER}'@'localhost'" in message for message in alerts(check, "CRITICAL")), \
        check["alerts"]
    assert "Access denied" in done.stdout
    assert_skipped_untouched(site, done, destination, before, staging)
    assert "not-the-password" not in everything_written(site) + done.stdout + done.stderr


def test_a_server_that_is_down_is_critical_and_nothing_is_copied_or_pruned(site, mariadb, places, tmp_path):
    destination, staging = places
    mariadb.fill("shop", rows=1)
    mariadb.create_user(USER, PASSWORD, ["shop"])
    before = configured_over_old_copies(site, mariadb, places, tmp_path)
    mariadb.stop()
    done = run(site)
    check = site.result("check_mounts:db")
    assert check["status"] == "failed"
    assert any("Can't connect" in message and str(mariadb.socket) in message
               for message in alerts(check, "CRITICAL")), check["alerts"]
    assert_skipped_untouched(site, done, destination, before, staging)


def test_a_chosen_database_that_is_gone_is_named_by_the_check(site, mariadb, places, tmp_path):
    destination, staging = places
    for name in ("shop", "wiki"):
        mariadb.fill(name, rows=1)
    mariadb.create_user(USER, PASSWORD, ["shop", "wiki"])
    mariadb.sql("DROP DATABASE wiki")
    before = old_copies(destination)
    site.write_config([db_backup("db", mariadb, destination, staging, retention=1, databases=["shop", "wiki"])],
                      secrets_file=str(tmp_path / "secrets.env"))
    done = run(site)
    check = site.result("check_mounts:db")
    assert check["status"] == "failed"
    (message,) = alerts(check, "ERROR")
    assert message.startswith(f"database wiki does not exist on the database server at {mariadb.socket} (it has: ")
    assert "shop" in message.split("(it has: ")[1]
    assert_skipped_untouched(site, done, destination, before, staging)


def test_a_user_that_may_not_dump_a_database_fails_the_check(site, mariadb, places, tmp_path):
    destination, staging = places
    mariadb.fill("shop", rows=1)
    account = f"'{USER}'@'localhost'"
    mariadb.sql(f"CREATE USER {account} IDENTIFIED BY 'plain-pass'; GRANT SELECT ON shop.* TO {account};")
    before = configured_over_old_copies(site, mariadb, places, tmp_path)
    done = run(site, password="plain-pass")
    check = site.result("check_mounts:db")
    assert check["status"] == "failed"
    (message,) = alerts(check, "ERROR")
    assert f"SHOW VIEW command denied to user '{USER}'@'localhost' for table `shop`.`priced`" in message
    assert_skipped_untouched(site, done, destination, before, staging)


def test_a_database_dropped_between_the_check_and_its_dump_fails_the_backup_by_name(
        site, mariadb, places, tmp_path):
    destination, staging = places
    for name in ("shop", "wiki"):
        mariadb.fill(name, rows=2)
    mariadb.create_user(USER, PASSWORD, ["shop", "wiki"])
    before = old_copies(destination)
    # the check's dumps (--no-data) go through; the real dump of wiki finds it dropped
    drop = (f'case "$*" in *--no-data*) ;; *"--databases -- wiki"*) mariadb --no-defaults --socket={mariadb.socket} '
            f"-u root -e 'DROP DATABASE wiki' ;; esac")
    wrapper = recording_wrapper(tmp_path / "dump.sh", DUMP, tmp_path / "calls.txt", before=drop)
    site.write_config([db_backup("db", mariadb, destination, staging, retention=1, dump_binary=str(wrapper))],
                      secrets_file=str(tmp_path / "secrets.env"))
    done = run(site)
    assert done.returncode == 1, done.stdout + done.stderr
    assert site.result("check_mounts:db")["status"] == "ok"
    backup = site.result("backup:db")
    assert backup["status"] == "failed"
    (message,) = alerts(backup, "ERROR")
    assert message.startswith("the dump of database wiki failed: ") and "Unknown database 'wiki'" in message, message
    assert message.endswith(". Nothing copied, nothing pruned.") and f"FAILED   db: {message}\n" in done.stdout
    assert backup["pruned"] == []
    assert {folder.name: listing(folder) for folder in destination.iterdir()} == before
    assert list((staging / "db").iterdir()) == []  # shop's dump, made before, is not left behind


def test_a_missing_password_secret_is_named_and_the_run_refused(site, mariadb, places, tmp_path):
    destination, staging = places
    folder = tmp_path / "usb"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    site.write_config([db_backup("db", mariadb, destination, staging),
                       {"name": "files", "source_dir": str(folder), "rclone_path": str(destination)}],
                      secrets_file=str(tmp_path / "secrets.env"))
    listed = run(site, "list", password=None)
    assert "backup_copy_list[0] (db).database.password_secret: MARIADB_PASSWORD is not set in the environment or " \
           f"{tmp_path / 'secrets.env'}" in listed.stderr, listed.stdout + listed.stderr
    assert re.search(r"^backup:db +NOT USABLE", listed.stdout, re.MULTILINE)
    assert re.search(r"^backup:files +" + re.escape(str(folder)), listed.stdout, re.MULTILINE)  # only that entry
    done = run(site, password=None)
    assert done.returncode == 1 and "invalid config, nothing was done" in done.stdout, done.stdout + done.stderr
    assert list(destination.iterdir()) == [] and not (staging / "db").exists()
    # the keyring command knows the name (here it cannot store it: this config has no keyring)
    stored = site.doit("secret_set", "name=MARIADB_PASSWORD")
    assert "give the secret's name" not in stored.stdout + stored.stderr
    assert "does not use the keyring" in stored.stdout + stored.stderr
    unknown = site.doit("secret_set", "name=NOT_A_SECRET_OF_THIS_CONFIG")
    assert re.search(r"give the secret's name: .*NAME one of [^\n]*\bMARIADB_PASSWORD\b",
                     unknown.stdout + unknown.stderr), unknown.stdout + unknown.stderr
    # the same secret in the secrets file (only its owner may read it) reaches the server
    mariadb.fill("shop", rows=1)
    mariadb.create_user(USER, PASSWORD, ["shop"])
    secrets = tmp_path / "secrets.env"
    secrets.touch(mode=0o600)
    secrets.write_text(f"MARIADB_PASSWORD={PASSWORD}\n")
    checked = run(site, "run", "check_mounts:db", password=None)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert site.result("check_mounts:db")["status"] == "ok"


@pytest.mark.parametrize("source", [True, False], ids=["both", "neither"])
def test_a_folder_and_a_database_together_or_neither_is_a_config_problem(site, places, tmp_path, source):
    destination, staging = places
    entry = {"name": "db", "rclone_path": str(destination)}
    if source:
        entry.update(source_dir=str(tmp_path), database={"socket": "/nowhere.sock", "user": USER,
                                                         "staging_dir": str(staging)})
    site.write_config([entry], secrets_file=str(tmp_path / "secrets.env"))
    listed = run(site, "list")
    expected = ("give either `source_dir` (a folder) or `database` (a database server; " if source
                else "no source: give `source_dir` (a folder) or `database` (a database server; ")
    assert expected in listed.stderr, listed.stdout + listed.stderr
    assert ("), not both" in listed.stderr) is source
    done = run(site)
    assert done.returncode != 0 and list(destination.iterdir()) == []


def test_a_dry_run_dumps_and_copies_nothing_and_says_what_it_would_dump(site, mariadb, places, tmp_path):
    destination, staging = places
    for name in ("shop", "wiki"):
        mariadb.fill(name, rows=1)
    mariadb.create_user(USER, PASSWORD, ["shop", "wiki"])
    record = tmp_path / "calls.txt"
    wrapper = recording_wrapper(tmp_path / "dump.sh", DUMP, record)
    site.write_config([db_backup("db", mariadb, destination, staging, dump_binary=str(wrapper))],
                      secrets_file=str(tmp_path / "secrets.env"))
    done = run(site, "dry_run=1")
    assert done.returncode == 0, done.stdout + done.stderr
    infos = alerts(site.result("backup:db"), "INFO")
    assert any(message.startswith("dry run: would dump 2 databases (shop, wiki)") for message in infos), infos
    assert list(destination.iterdir()) == []
    assert list((staging / "db").iterdir()) == []
    calls = [line for line in record.read_text().splitlines() if line.startswith("ARGS: ")]
    assert calls and all("--no-data" in line for line in calls)  # only the check's schema dumps ran


def test_a_dump_is_one_snapshot_rows_committed_while_it_runs_are_in_no_table(site, mariadb, places, tmp_path):
    """`a_big` is dumped first and is larger than the pipe, so the dump is held inside it while a transaction adds a
    row to both tables, waiting at most 5 s for a lock: the dump locks no writer out, and has neither row (without
    --single-transaction the insert would wait for the dump's table locks, or `b_ledger` would have its row)."""
    destination, staging = places
    mariadb.sql("CREATE DATABASE shop; USE shop;"
                "CREATE TABLE a_big (id INT PRIMARY KEY AUTO_INCREMENT, v MEDIUMTEXT) ENGINE=InnoDB;"
                "CREATE TABLE b_ledger (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20)) ENGINE=InnoDB;"
                "INSERT INTO a_big (v) VALUES " + ", ".join(["(REPEAT('x', 10000))"] * 200) + ";"
                "INSERT INTO b_ledger (v) VALUES ('before-1'), ('before-2');")
    mariadb.create_user(USER, PASSWORD, ["shop"])
    record = tmp_path / "during.txt"
    wrapper = tmp_path / "dump.py"
    wrapper.write_text(f"""#!{sys.executable}
import os, subprocess, sys
real, args = {DUMP!r}, sys.argv[1:]
if "--no-data" in args:
    os.execv(real, [real, *args])
dump = subprocess.Popen([real, *args], stdout=subprocess.PIPE)
head = dump.stdout.read(65536)  # the dump now waits, inside a_big, for the pipe to drain
subprocess.run(["mariadb", "--no-defaults", "--user=root", "--socket={mariadb.socket}", "shop", "-e",
                "SET SESSION lock_wait_timeout = 5; START TRANSACTION; INSERT INTO a_big (v) VALUES ('MIDDUMP'); "
                "INSERT INTO b_ledger (v) VALUES ('MIDDUMP'); COMMIT;"], check=True)
with open({str(record)!r}, "w") as out:
    out.write(f"running={{dump.poll() is None}} ledger_seen={{b'b_ledger' in head and b'before-1' in head}}")
sys.stdout.buffer.write(head)
while chunk := dump.stdout.read(65536):
    sys.stdout.buffer.write(chunk)
sys.exit(dump.wait())
""")
    wrapper.chmod(0o700)
    site.write_config([db_backup("db", mariadb, destination, staging, dump_binary=str(wrapper))],
                      secrets_file=str(tmp_path / "secrets.env"))
    done = run(site)
    assert done.returncode == 0, done.stdout + done.stderr
    assert record.read_text() == "running=True ledger_seen=False"  # the rows were committed mid-dump
    assert mariadb.sql("SELECT COUNT(*) FROM b_ledger WHERE v = 'MIDDUMP'", "shop") == "1\n"
    sql = gzip.decompress(sealed_listing(destination / dated("db"))["shop.sql.gz"])
    assert b"'before-1'" in sql and b"'before-2'" in sql and sql.count(b"x" * 10000) == 200
    assert b"MIDDUMP" not in sql


def test_a_port_without_a_host_reaches_the_server_on_that_port(site, places, tmp_path):
    destination, staging = places
    server = tcp_server(tmp_path / "tcp")
    try:
        server.fill("shop", rows=1)
        server.create_user(USER, PASSWORD, ["shop"])
        entry = db_backup("db", server, destination, staging, tcp=True)
        del entry["database"]["host"]  # the default, localhost
        site.write_config([entry], secrets_file=str(tmp_path / "secrets.env"))
        done = run(site)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(sealed_listing(destination / dated("db"))) == ["shop.sql.gz"]


def test_a_database_name_with_a_path_in_it_is_backed_up_or_refused_never_written_elsewhere(
        site, mariadb, places, tmp_path):
    destination, staging = places
    mariadb.fill("shop", rows=1)
    mariadb.sql("CREATE DATABASE `../escaped`; CREATE TABLE `../escaped`.t (i INT); INSERT INTO `../escaped`.t "
                "VALUES (7);")
    mariadb.create_user(USER, PASSWORD, ["shop", "../escaped"])
    site.write_config([db_backup("db", mariadb, destination, staging)], secrets_file=str(tmp_path / "secrets.env"))
    done = run(site)
    copied = listing(destination)
    assert done.returncode == 1 or any("escaped" in name for name in copied), done.stdout + str(sorted(copied))
    assert [entry.name for entry in staging.iterdir()] == ["db"]  # nothing beside the backup's own staging folder


def test_a_database_name_that_looks_like_an_option_is_never_taken_for_one(site, mariadb, places, tmp_path):
    destination, staging = places
    victims = Path(tempfile.mkdtemp(prefix="v", dir="/tmp"))  # short: a database name has at most 64 characters
    try:
        victim = victims / "f"
        victim.write_text("precious")
        name = f"--result-file={victim}"
        mariadb.sql(f"CREATE DATABASE `{name}`; CREATE TABLE `{name}`.t (i INT);")
        mariadb.create_user(USER, PASSWORD, [name])
        site.write_config([db_backup("db", mariadb, destination, staging)],
                          secrets_file=str(tmp_path / "secrets.env"))
        run(site)
        assert victim.read_text() == "precious"
    finally:
        shutil.rmtree(victims)
