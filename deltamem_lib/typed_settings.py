"""Settings travel as one typed, validated object: the checks every source of a setting goes through.

A setting reaches a settings dataclass (:class:`~deltamem_lib.training.settings.TrainConfig`,
:class:`~deltamem_lib.synthesis.procedural.SynthConfig`,
:class:`~deltamem_lib.benchmarks.protocol.BenchConfig`) or a notebook's parameters from a
*source*: a profile file's section, ``--set KEY=VALUE`` on the command line, a parameter
papermill injected, a notebook's own values. :func:`build` takes the sources in order (later
ones win) as :class:`Layer` objects and checks every value once, by the field's type:

* an ``int`` field wants an int: a bool, ``1.5`` or a string is refused;
* a ``float`` field takes an int or a float (not a bool, not ``"abc"``);
* a ``bool`` field wants ``True``/``False``; a ``str`` field a string;
* a ``list`` / ``tuple[...]`` field wants a list (each element checked by the element type);
* an unknown or misspelled name is refused, naming the closest valid one.

Values from the command line are text (``Layer(..., text=True)``): ``"4"`` is parsed for an
int field, ``true``/``false``/``yes``/``no``/``1``/``0`` for a bool, ``1e-4`` for a float, and
``[a, b]`` or ``a,b`` for a list. Values from a YAML file, papermill or Python code are already
typed and are *not* parsed: a quoted ``'4'`` in a profile for an int field is refused (YAML
reads an unquoted ``4`` as the int the field wants), so a value means the same wherever it is written.

Then the dataclass's own ``validate()`` (or ``__post_init__``) checks the ranges. Every refusal
is a :class:`SettingsError` (a ``ValueError``) whose one-line message names the source and the
field, which the ``deltamem`` command prints as one line with exit code 2 (:mod:`deltamem_lib.cli_errors`).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Layer", "SettingsError", "add_arguments", "build", "check_value", "closest", "field_types",
           "flag", "given_settings", "parse_set"]


class SettingsError(ValueError):
    """A refused setting; the message is one line naming the source and the field."""


@dataclass(frozen=True)
class Layer:
    """Values from one source. ``text``: command-line text, parsed per field type.
    ``names``: key → field name for keys named otherwise in this source (a notebook's
    ``locomo_questions`` → ``limit``), or None for a key that is no setting of the class
    (it is only type-checked against ``extra_types``)."""

    values: Mapping[str, Any]
    source: str
    text: bool = False
    names: Mapping[str, str | None] = field(default_factory=dict)
    extra_types: Mapping[str, Any] = field(default_factory=dict)


_NOTHING = object()


def closest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    hit = difflib.get_close_matches(name, list(candidates), 1, 0.6)
    return f"; did you mean {hit[0]!r}?" if hit else ""


def field_types(cls: Any) -> dict[str, Any]:
    """Field name → resolved type of a settings dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


def _kind(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t)


def _parse_text(text: str, t: Any) -> Any:
    """Command-line text → a value of type ``t`` (raises ValueError with a short reason)."""
    origin = typing.get_origin(t) or t
    s = text.strip()
    if t is bool:
        low = s.lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if t is int:
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        raise ValueError(f"expected an integer, got {text!r}")
    if t is float:
        try:
            value = float(s)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if value != value:  # NaN
            raise ValueError(f"expected a number, got {text!r}")
        return value
    if origin in (list, tuple):
        if s.startswith("["):
            try:
                parsed = ast.literal_eval(s)
            except (ValueError, SyntaxError):
                parsed = [p.strip() for p in s.strip("[]").split(",") if p.strip()]
        else:
            parsed = [p.strip() for p in s.split(",") if p.strip()]
        if not isinstance(parsed, (list, tuple)):
            raise ValueError(f"expected a list, got {text!r}")
        args = typing.get_args(t)
        elem = args[0] if args else str
        return [_parse_text(p, elem) if isinstance(p, str) and elem is not str else p for p in parsed]
    if t is str:
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
            return ast.literal_eval(s)
        return text
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError):
        return text


def check_value(value: Any, t: Any) -> Any:
    """``value`` as type ``t`` (an int becomes a float for a float field, a list a tuple for a
    tuple field), or ``ValueError`` with a short reason. ``Any``/None: anything goes."""
    if t is Any or t is None or t is type(None):
        return value
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(t):
            try:
                return check_value(value, option)
            except ValueError:
                continue
        raise ValueError(f"expected {t}, got {value!r}")
    if t is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {value!r}")
    if t is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"expected an integer, got {value!r}")
    if t is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"expected a number, got {value!r}")
    if t is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected a string, got {value!r}")
    if t in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        args = typing.get_args(t)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ValueError(f"expected a list of {len(args)} values, got {value!r}")
            items = [check_value(v, a) for v, a in zip(value, args)]
        else:
            elem = args[0] if args else Any
            try:
                items = [check_value(v, elem) for v in value]
            except ValueError as exc:
                raise ValueError(f"in {value!r}: {exc}") from None
        return tuple(items) if (origin or t) is tuple else list(items)
    if isinstance(t, type):
        if isinstance(value, t):
            return value
        raise ValueError(f"expected {_kind(t)}, got {value!r}")
    return value


def parse_set(items: Sequence[str] | None, source: str = "--set") -> Layer:
    """``KEY=VALUE`` items of the command line as a text :class:`Layer`."""
    values: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise SettingsError(f"{source}: expected KEY=VALUE, got {item!r}")
        key, text = item.split("=", 1)
        values[key.strip()] = text.strip()
    return Layer(values, source, text=True)


def _annotate(problem: str, origins: Mapping[str, str]) -> str:
    """A validate() problem with the source of the first field it names."""
    for name in re.findall(r"[a-z_][a-z0-9_]*", problem):
        if name in origins:
            return f"{problem} ({name} from {origins[name]})"
    return problem


def build(cls: Any, layers: Sequence[Layer], *, what: str | None = None) -> Any:
    """An instance of the settings dataclass ``cls`` from ``layers`` (later ones win), every
    value checked by its field's type, then ``cls.validate()`` (if any) for the ranges.

    Raises :class:`SettingsError` naming the source and the field of the first refusal.
    """
    what = what or cls.__name__
    types_ = field_types(cls)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        for key, raw in layer.values.items():
            target = layer.names.get(key, key) if key in layer.names else key
            if target is None or (target not in types_ and key in layer.extra_types):
                t = layer.extra_types.get(key, Any)
                try:
                    check_value(_parse_text(raw, t) if layer.text and isinstance(raw, str) else raw, t)
                except ValueError as exc:
                    raise SettingsError(f"{layer.source}: {key}: {exc}") from None
                continue
            if target not in types_:
                raise SettingsError(f"{layer.source}: {key!r} is no setting of {what}"
                                    f"{closest(key, list(types_) + list(layer.extra_types))}")
            t = types_[target]
            try:
                value = _parse_text(raw, t) if layer.text and isinstance(raw, str) else raw
                values[target] = check_value(value, t)
            except ValueError as exc:
                label = key if key == target else f"{key} ({target})"
                raise SettingsError(f"{layer.source}: {label}: {exc}") from None
            origins[target] = layer.source
    try:
        obj = cls(**values)
        if hasattr(obj, "validate"):
            obj.validate()
    except SettingsError:
        raise
    except (ValueError, TypeError) as exc:
        lines = [ln.strip().lstrip("- ").strip() for ln in str(exc).splitlines() if ln.strip()]
        head, problems = (lines[0].rstrip(":"), lines[1:]) if len(lines) > 1 else (f"invalid {what}", lines)
        raise SettingsError(f"{head}: " + "; ".join(_annotate(p, origins) for p in problems)) from None
    return obj


# ----- the command line: one flag per field -----------------------------------------------------
def flag(name: str) -> str:
    """The command-line flag of a field: ``top_k`` → ``--top-k``."""
    return "--" + name.replace("_", "-")


def add_arguments(parser: Any, cls: Any, *, positional: Sequence[str] = (), required: Sequence[str] = (),
                  choices: Mapping[str, Sequence[str]] | None = None, skip: Sequence[str] = (),
                  defaults: Mapping[str, str] | None = None) -> None:
    """One argument per field of the settings dataclass ``cls``, named after the field
    (:func:`flag`), with the field's help line and default: a bool is ``--name/--no-name``, a
    list or tuple takes several values. Arguments not given are left out of the namespace, so
    :func:`given_settings` returns only what the command line set. ``defaults``: field → the text
    shown as the default where the command computes it."""
    import argparse

    types_ = field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        t = types_[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown = (defaults or {}).get(f.name)
        if shown is None:
            shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else repr(default)
        help_ = f"{f.metadata.get('help', '')} (default: {shown})".replace("%", "%%")
        kwargs: dict[str, Any] = {"help": help_}
        if (choices or {}).get(f.name):
            kwargs["choices"] = list((choices or {})[f.name])
        if f.name in positional:
            parser.add_argument(f.name, **{**kwargs, "help": f.metadata.get("help", "")})
            continue
        kwargs.update(dest=f.name, default=argparse.SUPPRESS)
        if f.name in required:
            kwargs.update(required=True, help=f.metadata.get("help", ""))
        if t is bool:
            parser.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if (typing.get_origin(t) or t) in (list, tuple):
            kwargs["nargs"] = "+"
        parser.add_argument(flag(f.name), metavar=f.name.upper(), **kwargs)


def given_settings(args: Any, cls: Any) -> dict[str, Any]:
    """The fields of ``cls`` that the command line set (:func:`add_arguments`), each parsed by
    its type; a bad value is a :class:`SettingsError` naming the flag and the field."""
    types_ = field_types(cls)
    out: dict[str, Any] = {}
    for name, t in types_.items():
        if not hasattr(args, name):
            continue
        raw = getattr(args, name)
        try:
            value = _parse_text(raw, t) if isinstance(raw, str) else raw
            if isinstance(raw, list) and (typing.get_origin(t) or t) in (list, tuple):
                args_ = typing.get_args(t)
                elem = args_[0] if args_ else str
                value = [_parse_text(v, elem) if isinstance(v, str) else v for v in raw]
            out[name] = check_value(value, t)
        except ValueError as exc:
            raise SettingsError(f"{flag(name)}: {name}: {exc}") from None
    return out
