"""The registry of task kinds and the graph made of it: every kind declared once, found, and wired so that a
backup runs after its checks and the summary after every backup."""

import dataclasses

import pytest

from tasks import graph, kinds
from tasks.actions import checks
from tests.conftest import make_files


def test_every_kind_is_declared_once_with_a_one_line_doc_and_known_predecessors():
    registry = kinds.registry()
    assert {"check_rclone", "check_mounts", "check_space", "backup", "verify", "restore", "drill", "notify",
            "test_notify"} <= set(registry)
    for kind in registry.values():
        assert kind.doc and "\n" not in kind.doc and callable(kind.work)
        assert set(kind.after) <= set(registry), kind.name


def test_task_names_are_built_and_read_in_one_place():
    name = kinds.task_name("check_space", "web.1-a")
    assert name == "check_space:web.1-a"
    assert (kinds.kind_of(name), kinds.backup_of(name)) == ("check_space", "web.1-a")


@pytest.fixture
def plan(site, tmp_path):
    make_files(tmp_path / "src", {"a": "a"})
    (tmp_path / "nas").mkdir()
    site.write_config([{"name": name, "source_dir": str(tmp_path / "src"), "rclone_path": str(tmp_path / "nas")}
                       for name in ("one", "two")])
    return lambda: graph.plan({"config": str(site.config_path)})


def task_dicts(plan) -> dict[str, dict]:
    found = {}
    for task in graph.tasks(plan):
        name = task["basename"] + (f":{task['name']}" if task.get("name") else "")
        found[name] = task
    return found


def test_a_backup_runs_after_its_own_checks_and_the_summary_after_every_backup(plan):
    tasks = task_dicts(plan())
    for name in ("one", "two"):
        assert set(tasks[f"_backup:{name}"]["task_dep"]) == {"_lock", f"_check_rclone:{name}",
                                                            f"_check_mounts:{name}", f"_check_space:{name}"}
        assert tasks[f"backup:{name}"]["task_dep"] == [f"_backup:{name}"]
        assert tasks[f"restore:{name}"]["task_dep"] == ["_lock"]
    assert {"_backup:one", "_backup:two", "_start", "_lock"} <= set(tasks["notify"]["task_dep"])
    assert "task_dep" not in tasks["test_notify"] or "_lock" not in tasks["test_notify"]["task_dep"]


def test_a_kind_added_to_an_action_module_becomes_tasks_for_every_backup(plan, monkeypatch):
    audit = kinds.Kind("audit", "look at the source once more", lambda job: None, in_full_run=True,
                       after=("check_mounts",))
    monkeypatch.setattr(checks, "KINDS", (*checks.KINDS, audit))
    tasks = task_dicts(plan())
    assert tasks["audit"]["doc"] == "look at the source once more"
    assert set(tasks["_audit:two"]["task_dep"]) == {"_lock", "_check_mounts:two"}
    assert tasks["audit:two"]["task_dep"] == ["_audit:two"]


def test_a_kind_declared_twice_is_refused(monkeypatch):
    monkeypatch.setattr(checks, "KINDS", (*checks.KINDS, dataclasses.replace(checks.KINDS[0])))
    with pytest.raises(ValueError, match="check_rclone is declared twice"):
        kinds.registry()


def test_with_a_config_problem_the_full_run_does_no_work_at_all(plan, site):
    site.write_config([{"name": "one", "source_dir": "/x", "rclone_path": "/y", "days": -1}])
    tasks = task_dicts(plan())
    assert not any(name.startswith(("_backup", "_check")) for name in tasks)
    assert "task_dep" not in tasks["notify"]
    assert tasks["backup:one"]["doc"].startswith("NOT USABLE")
