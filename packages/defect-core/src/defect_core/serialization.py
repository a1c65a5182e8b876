"""JSON round trips for the frozen contract dataclasses.

Paths are written relative to the folder the JSON lives in (DESIGN.md §3), so that a dataset or an output
folder can be moved or copied as a whole; ``from_dict(..., base=folder)`` makes them absolute again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, Self, get_args, get_origin, get_type_hints


def _encode(value: Any, relative_to: Path | None) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name), relative_to) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        if relative_to is not None:
            # a relative path in memory is relative to the working directory, not to the JSON's folder
            return Path(os.path.relpath(os.path.abspath(value), relative_to)).as_posix()
        return value.as_posix()
    if isinstance(value, tuple | list):
        return [_encode(v, relative_to) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, relative_to) for k, v in value.items()}
    return value


def _decode(tp: Any, value: Any, base: Path | None) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decode(options[0], value, base) if len(options) == 1 else value
    if tp is Path:
        path = Path(value)
        if base is None or path.is_absolute():
            return path
        # relpath and normpath are both lexical, so a path outside the folder ("../x") comes back equal
        return Path(os.path.normpath(base / path))
    if origin is dict:
        key_type, value_type = get_args(tp) or (Any, Any)
        # JSON object keys are strings: give integer-keyed tables (class ids) their ints back
        return {(int(k) if key_type is int else k): _decode(value_type, v, base) for k, v in value.items()}
    if origin is tuple:
        args = get_args(tp)
        item_type = args[0] if args else Any
        return tuple(_decode(item_type, v, base) for v in value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp.from_dict(value, base=base) if issubclass(tp, JsonDataclass) else tp(**value)
    if tp is float and isinstance(value, int):
        return float(value)
    return value


class JsonDataclass:
    """Mixin: ``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json`` for a (frozen) dataclass."""

    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        """Plain JSON-able dict; paths become relative to ``relative_to`` when it is given (a relative path
        is first taken as relative to the working directory, as Python does)."""
        return _encode(self, Path(relative_to).resolve() if relative_to is not None else None)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: str | Path | None = None) -> Self:
        """Rebuild from :meth:`to_dict`'s output; relative paths are joined to ``base`` when it is given.

        Unknown keys are an error (a typo in a hand-written file should not pass silently).
        """
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}")
        base_path = Path(base) if base is not None else None
        kwargs = {k: _decode(hints[k], v, base_path) for k, v in data.items()}
        return cls(**kwargs)

    def to_json(self, relative_to: str | Path | None = None, **kwargs: Any) -> str:
        """JSON text of :meth:`to_dict` (keys in field order)."""
        return json.dumps(self.to_dict(relative_to), **kwargs)

    @classmethod
    def from_json(cls, text: str, base: str | Path | None = None) -> Self:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text), base=base)
