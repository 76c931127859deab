"""Declare one config key in one place: its Cerberus rules together with what the administrator reads about it.

`scripts/config_docs.py` turns the doc and the example into `var/config.example.yaml` and the README's tables.
A module of its own, so that both `tasks.schema` and the channel modules it imports can use it.
"""

_ABSENT = object()  # not None: None could be a real default or example


def key(type: str | list[str], doc: str, *, example=_ABSENT, default=_ABSENT, **rules) -> dict:
    """Cerberus rules for one key; `doc` (one line) and `example` go under `meta`, which Cerberus ignores.

    `example` is a value worth setting in a fresh config; keys without one are shown with their default.
    """
    meta = {"doc": doc} if example is _ABSENT else {"doc": doc, "example": example}
    declared = {"type": type, **rules, "meta": meta}
    if default is not _ABSENT:
        declared["default"] = default
    return declared


def api_address(default: str) -> dict:
    """A channel's `base_url`: the service's public API, replaced only to go through a proxy or a test server."""
    return key("string", "API address; change it only for a proxy or a test server.", default=default)
