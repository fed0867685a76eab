"""What a plain (unquoted) YAML scalar means to the readers a Flux repository meets.

kubectl and Helm read YAML with Go's yaml.v2 rules (sigs.k8s.io/yaml), kustomize and Flux's
controllers with yaml.v3, PyYAML with YAML 1.1. They disagree: `0o17`, `0X1F`, `1_e3` and
`2024-1-2` are numbers or dates to Go and text to PyYAML; `2:30` is a number to PyYAML and text
to Go; `on` is true to yaml.v2 and text to yaml.v3. fluxgen reads the values people write the
way kubectl and Helm do (go_tag), and quotes every string that any of them would read as
something else (needs_quotes). Pure: no I/O.
"""

import math
import re

INT, FLOAT, BOOL, NULL, STR, TIMESTAMP, MERGE = (f"tag:yaml.org,2002:{kind}" for kind in (
    "int", "float", "bool", "null", "str", "timestamp", "merge"))

TRUE = frozenset("y Y yes Yes YES on On ON true True TRUE".split())
FALSE = frozenset("n N no No NO off Off OFF false False FALSE".split())
NULLS = frozenset(["", "~", "null", "Null", "NULL"])
_SPECIAL_FLOATS = {f"{sign}.{word}": sign_value * math.inf for sign, sign_value in (("", 1), ("+", 1), ("-", -1))
                   for word in ("inf", "Inf", "INF")} | {f".{word}": math.nan for word in ("nan", "NaN", "NAN")}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?")
_INT64 = range(-2**63, 2**63)
_UINT64 = range(0, 2**64)
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
# YAML 1.1 (PyYAML) and every timestamp-looking text: quoted on output whatever Go makes of it
_PYYAML_NOT_TEXT = re.compile(r"""(?x)
    [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
  | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
  | [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)? | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
  | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
  | yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
  | null|Null|NULL|~ | = | <<
  | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt\s].*)?""")


def go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint: Go's reading of an integer, or None."""
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text[1:] if text[:1] == "+" else text)
    base = 10
    if len(digits) > 1 and digits[0] == "0":
        prefix = digits[1].lower()
        base, digits = {"x": (16, digits[2:]), "b": (2, digits[2:]), "o": (8, digits[2:])}.get(prefix, (8, digits[1:]))
    if not digits or any(ch not in _DIGITS[base] for ch in digits):
        return None
    value = sign * int(digits, base)
    if value in _INT64 or (value in _UINT64 and text[:1] not in "+-"):
        return value
    return None


def is_timestamp(text: str) -> bool:
    """Whether yaml.v2/v3 read `text` as a timestamp (2006-1-2, with an optional time)."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
                         r"(?:\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})?)?", text)
    if not match:
        return False
    year, month, day = (int(match[i]) for i in (1, 2, 3))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(year, month):
        return False
    if match[4] is None:
        return True
    if (match[4] == " ") == (match[8] is not None):  # a space goes without a zone, T and t with one
        return False
    return int(match[5]) < 24 and int(match[6]) < 60 and int(match[7]) < 60


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def go_tag(text: str) -> str:
    """The tag yaml.v2 (kubectl, Helm) resolves a plain scalar to."""
    if text in NULLS:
        return NULL
    if text in TRUE or text in FALSE:
        return BOOL
    if text in _SPECIAL_FLOATS:
        return FLOAT
    if text == "<<":
        return MERGE
    first = text[0]
    if first == ".":
        return FLOAT if go_float(text) is not None else STR
    if not (first.isdigit() and first.isascii()) and first not in "+-":
        return STR
    if is_timestamp(text):
        return TIMESTAMP
    plain = text.replace("_", "")
    if go_int(plain) is not None:
        return INT
    if _YAML_STYLE_FLOAT.fullmatch(plain) and go_float(plain) is not None:
        return FLOAT
    return STR


def go_float(text: str) -> float | None:
    """strconv.ParseFloat for the decimal forms YAML allows; None where Go fails (overflow too).
    yaml.v2 removes every `_` first, except for text that starts with `.`, which Go's own
    syntax reads (an `_` only between two digits)."""
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[:1] == ".":
        if not _DOT_FLOAT.fullmatch(text):
            return None
        plain = text.replace("_", "")
    else:
        plain = text.replace("_", "")
        if not _YAML_STYLE_FLOAT.fullmatch(plain):
            return None
    value = float(plain)
    return None if math.isinf(value) else value


def needs_quotes(text: str) -> bool:
    """Whether some reader (PyYAML, yaml.v2, yaml.v3) takes `text`, written plain, for a non-string."""
    return text == "" or go_tag(text) != STR or bool(_PYYAML_NOT_TEXT.fullmatch(text))
