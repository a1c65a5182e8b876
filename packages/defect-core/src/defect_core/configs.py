"""Config dataclasses ⇄ TOML files ⇄ command-line flags, and the helpers every config is written with.

A config is a frozen dataclass whose fields are :func:`config_field` (a default, the papers' value, and a
help text); its ``__post_init__`` turns path strings into paths with :func:`coerce_paths` and validates with
:func:`require`. The CLI is generated from it (timm's pattern: a ``--config FILE.toml`` sets the defaults,
explicit flags win; :func:`parse_config`), and the resolved config is written as TOML beside every
artifact.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import re
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from defect_core.atomic import write_text_atomic
from defect_core.errors import InputFileError

T = TypeVar("T")


# -- declaring and validating a config --------------------------------------------------------------------


def config_field(default: Any, help: str, **kwargs: Any) -> Any:  # noqa: A002 - mirrors dataclasses.field's metadata
    """A dataclass field with a default and the help text that :func:`add_config_arguments` shows.

    ``kwargs`` go to :func:`dataclasses.field` (e.g. ``init=False``).
    """
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


def require(config: object, ok: bool, name: str, why: str) -> None:
    """Raise ``ValueError("<Class>.<name>=<value>: <why>")`` unless ``ok``.

    Every config and every contract dataclass validates its fields this way in ``__post_init__``, so each
    message names the class, the field and the value that was given.
    """
    if not ok:
        raise ValueError(f"{type(config).__name__}.{name}={getattr(config, name)!r}: {why}")


def _path_kind(tp: Any) -> str | None:
    tp, _ = _unwrap_optional(tp)
    if tp is Path:
        return "path"
    if get_origin(tp) is tuple and get_args(tp)[:1] == (Path,):
        return "paths"
    return None


@functools.cache
def _path_fields(cls: type) -> dict[str, str]:
    hints = get_type_hints(cls)
    kinds = {f.name: _path_kind(hints[f.name]) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return {name: kind for name, kind in kinds.items() if kind is not None}


def coerce_paths(config: object) -> None:
    """Turn the strings given to the ``Path`` fields of a frozen config dataclass into ``Path`` objects (and a
    list or tuple given to a ``tuple[Path, ...]`` field into a tuple of paths), in place.

    Called first in ``__post_init__``: Python callers (notebooks, tests) pass strings, as a TOML file does.
    """
    kinds = _path_fields(type(config))
    for name, kind in kinds.items():
        value = getattr(config, name)
        if kind == "path" and isinstance(value, str):
            object.__setattr__(config, name, Path(value))
        elif kind == "paths" and isinstance(value, list | tuple):
            object.__setattr__(config, name, tuple(Path(v) for v in value))


# -- TOML ------------------------------------------------------------------------------------------------


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; an unreadable or invalid file raises :class:`InputFileError` naming it."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise InputFileError(path, "config file does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"invalid TOML ({exc})") from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str | Path):
        return '"' + "".join(_toml_char(c) for c in str(value)) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_char(c: str) -> str:
    # TOML basic strings forbid raw control characters (\r and \x00 included), not only \n and \t
    if c in ('"', "\\"):
        return "\\" + c
    if c == "\n":
        return "\\n"
    if c == "\t":
        return "\\t"
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"\\u{ord(c):04x}"
    return c


def _toml_key(key: str) -> str:
    # bare keys are ASCII only: str.isalnum() would also let "café" through, which TOML rejects
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def dump_toml(data: dict[str, Any], _prefix: str = "") -> str:
    """TOML text of a nested dict of str / int / float / bool / Path / lists; ``None`` values are left out
    (TOML has no null, and a missing key means "the default")."""
    lines, tables = [], []
    for key, value in data.items():
        if value is None:
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = config_to_dict(value)
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, table in tables:
        name = f"{_prefix}.{_toml_key(key)}" if _prefix else _toml_key(key)
        out += f"\n[{name}]\n" + dump_toml(table, name)
    return out


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a plain dict (paths as strings, tuples as lists, nested dataclasses as dicts)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return plain(config)


def save_config(config: Any, path: str | Path) -> Path:
    """Write a config dataclass (or dict) as TOML, atomically."""
    data = config if isinstance(config, dict) else config_to_dict(config)
    return write_text_atomic(path, dump_toml(data))


# -- dataclass ⇄ argparse ------------------------------------------------------------------------------


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _converter(tp: Any) -> Any:
    return {int: int, float: float, str: str, Path: Path}.get(tp, str)


def add_command_arguments(
    parser: argparse.ArgumentParser, quiet_help: str = "no progress bar, warnings only"
) -> None:
    """Add the two flags every defectfill command has: ``--config FILE.toml`` and ``-q / --quiet``."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="TOML file of settings (keys = the flags' names with underscores); flags override it",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet_help)


def command_parser(
    prog: str, description: str | None, epilog: str = "", quiet_help: str = "no progress bar, warnings only"
) -> argparse.ArgumentParser:
    """A command's parser: help text kept as written, then :func:`add_command_arguments`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_command_arguments(parser, quiet_help)
    return parser


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, skip: Sequence[str] = ()) -> None:
    """Add one ``--field-name`` flag per field of the dataclass ``cls`` (help from its metadata).

    Flags default to ``argparse.SUPPRESS`` so that only what the user typed overrides the config file and
    the dataclass defaults.
    """
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp, optional = _unwrap_optional(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        help_text = f.metadata.get("help", "") + f" (default: {default!r})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif get_origin(tp) is tuple:
            item = get_args(tp)[0] if get_args(tp) else str
            parser.add_argument(flag, nargs="+", type=_converter(item), **kwargs)
        elif get_origin(tp) is typing.Literal:
            choices = list(get_args(tp))
            # argparse compares the converted string with the choices: Literal[4, 8] needs type=int
            kinds = {type(c) for c in choices}
            convert = next(iter(kinds)) if kinds in ({int}, {float}) else str
            parser.add_argument(flag, choices=choices, type=convert, **kwargs)
        elif get_origin(tp) is dict:
            continue  # dict fields are set from a config file only
        else:
            parser.add_argument(flag, type=_converter(tp), metavar=f.name.upper(), **kwargs)
        del optional


def build_config(
    cls: type[T], file_values: dict[str, Any] | None = None, cli_values: dict[str, Any] | None = None
) -> T:
    """Dataclass defaults, overridden by a config file's values, overridden by explicit CLI values.

    Unknown keys in the file are an error naming them (a misspelt key must not be silently ignored).
    """
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = dict(file_values or {})
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown config key(s) for {cls.__name__}: {unknown}; known: {sorted(names)}")
    values.update(cli_values or {})
    hints = get_type_hints(cls)
    for key, value in list(values.items()):
        tp, _ = _unwrap_optional(hints[key])
        if get_origin(tp) is tuple and isinstance(value, list):
            values[key] = tuple(value)
        elif tp is Path and isinstance(value, str):
            values[key] = Path(value)
        elif tp is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
    return cls(**values)


def parse_config(
    cls: type[T],
    argv: Sequence[str] | None,
    parser: argparse.ArgumentParser,
    section: str | None = None,
    presets: dict[str, dict[str, Any]] | None = None,
    preset_field: str = "preset",
) -> tuple[T, argparse.Namespace]:
    """Parse ``argv`` with ``parser`` (which must have ``--config`` and the flags of ``cls``) into a config.

    With ``presets``, the value of the field ``preset_field`` (from the flags or the file) names one of them,
    whose values sit between the dataclass defaults and the file: defaults < preset < file < flags.

    Returns the config and the namespace (for flags that are not config fields). A missing or invalid config
    file, an unknown key, an unknown preset or an invalid value ends in ``parser.error`` (exit status 2)
    naming the problem.
    """
    args = parser.parse_args(argv)
    file_values: dict[str, Any] = {}
    if getattr(args, "config", None):
        try:
            data = load_toml(args.config)
        except InputFileError as exc:
            parser.error(str(exc))
        file_values = data.get(section, data) if section else data
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    cli_values = {k: v for k, v in vars(args).items() if k in names}
    preset_values: dict[str, Any] = {}
    if presets is not None:
        name = cli_values.get(preset_field, file_values.get(preset_field))
        if name is not None and name not in presets:
            parser.error(
                f"unknown --{preset_field.replace('_', '-')} {name!r}; available: {', '.join(presets)}"
            )
        preset_values = dict(presets.get(name, {})) if name is not None else {}
    try:
        config = build_config(cls, {**preset_values, **file_values}, cli_values)
    except ValueError as exc:
        where = f"{args.config}: " if getattr(args, "config", None) else ""
        parser.error(f"{where}{exc}")
    return config, args
