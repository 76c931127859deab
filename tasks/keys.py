"""Declare one config key in one place: its Cerberus rules together with what the administrator reads about it.

`scripts/config_docs.py` turns the doc and the example into `var/config.example.yaml` and the README's tables.
A module of its own, so that both `tasks.schema` and the channel modules it imports can use it.
"""

from collections.abc import Callable

_ABSENT = object()  # not None: None could be a real default or example

#: The words YAML 1.1 (PyYAML) reads as booleans when unquoted, e.g. `verify: off` arrives as False.
_YAML_BOOLEANS = {word: value for value, words in ((True, ("yes", "on", "true")), (False, ("no", "off", "false")))
                  for word in words}


def _as_word(allowed: list) -> Callable:
    """A coercer that turns the boolean YAML made of an unquoted allowed word back into that word."""
    words = {value: [word for word in allowed if _YAML_BOOLEANS.get(str(word).lower()) is value]
             for value in (True, False)}

    def coerce(value):
        if isinstance(value, bool) and len(words[value]) == 1:
            return words[value][0]
        return value
    return coerce


def key(type: str | list[str], doc: str, *, example=_ABSENT, default=_ABSENT, instead_of: str | None = None,
        **rules) -> dict:
    """Cerberus rules for one key; `doc` (one line) and `example` go under `meta`, which Cerberus ignores.
    `instead_of`: the key this one replaces (the example config shows this one commented out).

    `example` is a value worth setting in a fresh config; keys without one are shown with their default. A key
    that takes words (`allowed`) takes them unquoted too, as the docs write them: see `_as_word`.
    """
    if "allowed" in rules and type == "string":
        extra = rules.get("coerce", [])
        rules["coerce"] = [_as_word(rules["allowed"]), *(extra if isinstance(extra, list) else [extra])]
    meta = {"doc": doc} if example is _ABSENT else {"doc": doc, "example": example}
    if instead_of:
        meta["instead_of"] = instead_of
    declared = {"type": type, **rules, "meta": meta}
    if default is not _ABSENT:
        declared["default"] = default
    return declared


def api_address(default: str) -> dict:
    """A channel's `base_url`: the service's public API, replaced only to go through a proxy or a test server."""
    return key("string", "API address; change it only for a proxy or a test server.", default=default)
