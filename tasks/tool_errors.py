"""The one kind of failure every program the tool runs reports (rclone, restic, the database dump tool)."""


class ToolError(Exception):
    """A program failed; the message is already in plain words and free of secrets. `needs_action`: the cause will
    not go away by itself (a refused login, an expired token, a missing repository), so a person must act."""

    def __init__(self, message: str, needs_action: bool = False):
        super().__init__(message)
        self.needs_action = needs_action
