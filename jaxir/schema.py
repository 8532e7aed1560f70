"""Type checks of loaded JSON documents: a wrong-typed or missing field is one JaxirError line that
names the file (and place) and the field.

Types are Python types; `int` excludes bool, `float` means any number (int or float, not bool),
`None` allows null.
"""
import re

from jaxir.errors import JaxirError

LANG_CODE = re.compile(r"[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*")   # a language code: en, zh-Hans, pt_BR

_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
          dict: "a mapping", None: "null"}
MISSING = object()


def is_a(value, types):
  """Whether `value` is one of `types` (a type, None, or a tuple of them)."""
  for t in types if isinstance(types, tuple) else (types,):
    if t is None:
      ok = value is None
    elif t in (int, float):
      ok = isinstance(value, int if t is int else (int, float)) and not isinstance(value, bool)
    else:
      ok = isinstance(value, t)
    if ok:
      return True
  return False


def describe(value):
  """A short account of a bad value for a message: its type and, when short, the value."""
  if value is None:
    return "null"
  text, kind = repr(value), type(value).__name__
  return f"{kind} {text}" if len(text) <= 40 else kind


def check(value, types, what):
  """`value` when it is one of `types`; else JaxirError "{what} must be ..., got ..."."""
  if not is_a(value, types):
    names = " or ".join(_NAMES.get(t, getattr(t, "__name__", str(t))) for t in (types if isinstance(types, tuple) else (types,)))
    raise JaxirError(f"{what} must be {names}, got {describe(value)}")
  return value


def expect(obj, key, types, where, default=MISSING):
  """`obj[key]` checked against `types` (`default` when the key is absent and a default is given);
  `where` names the file, and the place in it, for the message."""
  if not isinstance(obj, dict):
    raise JaxirError(f"{where} must be a mapping, got {describe(obj)}")
  if key not in obj:
    if default is not MISSING:
      return default
    raise JaxirError(f"{where}: missing field '{key}'")
  return check(obj[key], types, f"{where}: field '{key}'")


def items(values, types, what):
  """The list `values` with every item checked against `types` ("{what}[i] must be ...")."""
  check(values, list, what)
  for i, v in enumerate(values):
    check(v, types, f"{what}[{i}]")
  return values
