"""The registry of task kinds: every kind of work the tool does, declared once.

Each module of `tasks/actions/` declares its kinds in a `KINDS` tuple; the registry finds them, and
`tasks.graph` turns each kind and the config into doit tasks. Adding a kind of task is adding a `Kind` to an
action module (or a new module): nothing else lists them.

Task names are built and read here and nowhere else: `KIND:BACKUP` (e.g. `check_space:contabo1`).
"""

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of task.

    A per-backup kind's `work(job)` acts on one backup (a `tasks.job.Job`) and reports through `job.result` or by
    raising `tasks.job.Stop`. A host-wide kind's `work(plan)` acts once per run and returns doit's verdict.
    """

    name: str
    doc: str                           # one line, shown by `doit list`
    work: Callable
    per_backup: bool = True
    in_full_run: bool = False          # part of every full run (`doit`); refused while the config has a problem
    after: tuple[str, ...] = ()        # kinds whose results this one reads: they run first (same backup)
    listed_each: bool = False          # each backup's task is a top-level name, so plain `doit list` shows it
    describe: Callable | None = None   # backup -> its line in `doit list`


def registry() -> dict[str, Kind]:
    """Every kind of every module in tasks/actions, by name, in the order the modules declare them."""
    from tasks import actions

    found = {}
    for module in pkgutil.iter_modules(actions.__path__):
        for kind in importlib.import_module(f"{actions.__name__}.{module.name}").KINDS:
            if kind.name in found:
                raise ValueError(f"task kind {kind.name} is declared twice")
            found[kind.name] = kind
    return found


def task_name(kind: str, backup: str) -> str:
    return f"{kind}:{backup}"


def kind_of(task: str) -> str:
    """`check_space:contabo1` -> `check_space`."""
    return task.split(":", 1)[0]


def backup_of(task: str) -> str:
    """`check_space:contabo1` -> `contabo1`; "" for a run-wide subject such as `config`."""
    return task.partition(":")[2]
