"""Read config.yaml into plain data, with every reading problem in words an administrator can act on.

A file that cannot be read as a YAML mapping is a ConfigError. Duplicate keys are not fatal here but are found
with both line numbers: YAML lets the second silently win, so a forgotten `- ` in the backup list would merge two
backups into one and quietly drop the other.
"""

from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_path(value: str) -> Path:
    """A path from the config: relative ones are relative to the project folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and every problem found."""


#: A position in the document: keys and list indexes, e.g. ("backup_copy_list", 2, "days").
Position = tuple[str | int, ...]


def read(path: Path) -> tuple[dict, list[tuple[Position, str]]]:
    """The document at `path` and its duplicate keys as (position, message); raise ConfigError when the file is
    missing, unreadable, not UTF-8, not YAML, empty, or not a mapping."""
    text = _text(path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(f"{path}: the file is empty; see var/config.example.yaml")
        duplicates = list(_duplicate_keys(node, ()))
        document = loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: {where}YAML syntax error: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings (key: value), "
                          f"not a {type(document).__name__}")
    return document, duplicates


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: copy var/config.example.yaml to it and edit it") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not valid UTF-8 text (byte {raw[error.start]:#04x})") from None


def _duplicate_keys(node, position: Position):
    """Yield (position, message) for every key given twice in one mapping, anywhere in the document."""
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*position, index))
    elif isinstance(node, yaml.MappingNode):
        first_line = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name in first_line:
                hint = " (is a `- ` missing before the second backup?)" if position[:1] == ("backup_copy_list",) \
                    and len(position) == 2 else ""
                yield ((*position, name), f"given twice, on line {first_line[name]} and on line "
                                          f"{key.start_mark.line + 1}; remove one{hint}")
            elif name is not None:
                first_line[name] = key.start_mark.line + 1
            yield from _duplicate_keys(value, (*position, name) if name is not None else position)
