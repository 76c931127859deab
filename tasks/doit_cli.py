"""How doit talks to people: the reporter that prints a failure once and logs each run's start and end, and two
mends for doit 0.37's command line (an unknown task in `doit info`, a reader that leaves `doit list | head`).
Imported by tasks.graph, so every doit command of this project gets them.
"""

import functools
import logging
import socket
import sys
import time

from doit.cmd_base import DoitCmdBase
from doit.cmd_info import Info
from doit.cmd_run import Run as RunCommand
from doit.exceptions import InvalidCommand, TaskError, UnmetDependency
from doit.reporter import ErrorOnlyReporter

from tasks import logs
from tasks.job import Run
from tasks.summary import format_duration


class QuietReporter(ErrorOnlyReporter):
    """doit's error-only reporter, for people and cron's mail: a failure's own message once, without doit's
    `taskid:` framing, nothing the summary printed just above already says (tasks.job.Reported), none of the
    UnmetDependency lines one failed task causes; a crash (TaskError) with its traceback. For the run given to `of`,
    it logs the start and end lines."""

    run: Run | None = None

    @classmethod
    def of(cls, run: Run) -> type:
        return type(cls.__name__, (cls,), {"run": run})  # doit makes the instance

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.started, self.failed, self.crashed = time.monotonic(), [], []

    def write(self, text):
        try:
            self.outstream.write(text.rstrip("\n") + "\n")
            self.outstream.flush()
        except BrokenPipeError:
            logs.reader_gone()

    def initialize(self, tasks, selected_tasks):
        if self.run:
            logging.getLogger(logs.LOGGER).info(
                "run started: %s; config %s; host %s; %s", " ".join(selected_tasks or ["(default)"]),
                self.run.config_path, socket.gethostname(),
                "DRY RUN, nothing is copied or deleted" if self.run.dry_run else "not a dry run")

    def add_failure(self, task, fail_info):
        if isinstance(fail_info, UnmetDependency) or not fail_info.report:
            return
        crashed = isinstance(fail_info, TaskError)
        (self.crashed if crashed else self.failed).append(f"{task.name}: {fail_info.message.strip()}")
        shown = (f"ERROR: {task.name} crashed:\n{fail_info.get_msg()}" if crashed
                 else getattr(fail_info, "unseen", fail_info.message))
        if shown.strip():
            self.write(shown)

    def runtime_error(self, msg):
        self.crashed.append(msg.strip())
        super().runtime_error(msg)

    def complete_run(self):
        status = "error (exit 2): " if self.crashed else "failed (exit 1): " if self.failed else "ok (exit 0)"
        if self.run:
            logging.getLogger(logs.LOGGER).info("run ended after %s: %s%s", format_duration(time.monotonic()
                                                - self.started), status, "; ".join(self.crashed + self.failed))


def _info_names_an_unknown_task_in_words() -> None:
    """doit 0.37's `doit info NAME` ends in a KeyError traceback when NAME is not a task: say it in words (exit 3)."""
    execute = Info._execute

    def checked(self, pos_args, hide_status=False):
        if len(pos_args) == 1 and pos_args[0] not in {task.name for task in self.task_list}:
            raise InvalidCommand(f'no task is named "{pos_args[0]}"; `doit list --all` shows them all')
        return execute(self, pos_args, hide_status)

    Info._execute = checked


def _listings_end_quietly_when_the_reader_goes() -> None:
    """`doit list | head -1`: the reader leaves, the next line written raises BrokenPipeError, and doit prints a
    traceback. End such a command quietly, as SIGPIPE ends other Unix tools. A run (tasks.graph.QuietReporter,
    tasks.logs.show) goes on instead: its backups must not stop because nobody reads what it prints."""
    def quiet(execute):
        @functools.wraps(execute)  # doit passes _execute the options its signature names
        def quietly(self, **options):
            try:
                outcome = execute(self, **options)
                sys.stdout.flush()
                return outcome
            except BrokenPipeError:
                logs.reader_gone()
                return 0
        return quietly

    for command in DoitCmdBase.__subclasses__():
        if command is not RunCommand and "_execute" in vars(command):
            command._execute = quiet(command._execute)


_info_names_an_unknown_task_in_words()
_listings_end_quietly_when_the_reader_goes()
