"""Tool JSON schemas -> a llama.cpp grammar (GBNF) whose every sentence is a valid tool call.

Why our own converter rather than llama.cpp's `json_schema_to_gbnf`: every string and array
must be bounded so that generation always ends inside `max_tokens` (an unbounded string can
run away and be cut off as invalid JSON), integer ranges (`ge`/`le`) must hold, and formats
pydantic emits (`email`, `uri`, ...) must come out valid. The converter here knows the worst-
case length of everything it emits, so `build_tool_grammar` can shrink the default bounds until
the longest possible tool call fits into `max_tokens` (one token is at least one character).

What is emitted:
- compact JSON without optional whitespace (fewer tokens, nothing to run away);
- strings of `[min, max]` characters, no escapes, no control characters, first character not
  blank (so `strip_whitespace` fields with `min_length` stay valid); `maxLength` from the
  schema, or the default bound, always capped by the budget; `minLength` always honoured;
- `pattern`: a bounded translation of the regex (`*`, `+`, `{m,}` get the string bound);
- formats: `email`, `uri`, `date`, `date-time`, `time`, `uuid` as bounded patterns that every
  validator accepts (e.g. dates use days 01-28 only); other formats: a bounded string;
- integers: exact ranges from `minimum`/`maximum`/`exclusive*` (at most 15 digits otherwise);
  numbers: free (bounded digits) when unbounded, an integer range when a bound is given;
- `enum`/`const` as literals, `anyOf`/`oneOf`/type lists as alternatives, `allOf` merged,
  `$ref` into `$defs`/`definitions` inlined (recursion is cut at a fixed depth), objects with
  required properties always and optional ones optionally (no extra properties), `dict`-like
  objects (`additionalProperties`) and arrays up to `maxItems` (default bound otherwise;
  optional properties get a quarter of the string bound and half the array bound, so that the
  budget goes to the required ones;
  `uniqueItems` arrays get at most one item so they stay unique), `prefixItems` tuples.

`tool_choice` decides the top rule: a named tool -> that tool's call; "required" -> one call of
any tool; "auto" -> a call of any tool OR plain text, as grammar alternatives: the first
character decides (text may not start with the call's opening character, `<` or `{`), so the
model itself chooses between answering and calling in one generation (no second pass).
One call per answer.

`validate(schema, value)` checks a value against the same JSON-schema subset; the runtime uses
it as a second line of defence on every parsed call.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Iterable
from uuid import UUID

MAX_REF_DEPTH = 6
MAX_INT_DIGITS = 15
FRACTION_DIGITS = 6
ANY_VALUE_DEPTH = 2

# Characters never emitted inside a JSON string: quote, backslash, control characters.
_FORBIDDEN_RANGES = [(0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0x7F, 0x7F)]
_STRING_CHAR = r'[^"\\\x00-\x1F\x7F]'
# The first character of a non-empty string: visible, never stripped as whitespace.
_FIRST_CHAR = r"[!#-\x5B\x5D-~\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF\u4E00-\u9FFF]"

_FORMAT_PATTERNS = {
    "email": r"^[a-z0-9]{1,12}([._-][a-z0-9]{1,8})?@[a-z0-9]{1,12}\.(com|org|net|io|de|fr|uk|co)$",
    "uri": r"^https://[a-z0-9]{1,16}(\.[a-z0-9]{1,16})?\.(com|org|net|io)(/[a-zA-Z0-9_-]{1,16}){0,2}$",
    "date": r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$",
    "time": r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
    "date-time": r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$",
    "uuid": r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
}
_FORMAT_PATTERNS["url"] = _FORMAT_PATTERNS["uri"]
_FORMAT_PATTERNS["idn-email"] = _FORMAT_PATTERNS["email"]


class GrammarError(ValueError):
    """A schema the converter cannot turn into a grammar (the message says where)."""


# -- GBNF text helpers ---------------------------------------------------------------------------


def literal(text: str) -> str:
    """A GBNF string literal matching exactly `text`."""
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def json_literal(value: Any) -> tuple[str, int]:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return literal(text), len(text)


def _class_char(code: int) -> str:
    ch = chr(code)
    if ch.isascii() and ch.isalnum():
        return ch
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _render_class(ranges: Iterable[tuple[int, int]], negated: bool) -> str:
    parts = []
    for lo, hi in ranges:
        parts.append(_class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}")
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


def _subtract(ranges: list[tuple[int, int]], removed: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result = []
    for lo, hi in ranges:
        pieces = [(lo, hi)]
        for rlo, rhi in removed:
            next_pieces = []
            for plo, phi in pieces:
                if rhi < plo or rlo > phi:
                    next_pieces.append((plo, phi))
                    continue
                if plo < rlo:
                    next_pieces.append((plo, rlo - 1))
                if phi > rhi:
                    next_pieces.append((rhi + 1, phi))
            pieces = next_pieces
        result.extend(pieces)
    return result


# -- integer ranges ------------------------------------------------------------------------------


def _same_length_range(lo: str, hi: str) -> str:
    """GBNF for the decimal numbers from lo to hi, both with the same number of digits."""
    if all(c == "0" for c in lo) and all(c == "9" for c in hi):
        return f"[0-9]{{{len(lo)}}}" if len(lo) > 1 else "[0-9]"
    if len(lo) == 1:
        return f'"{lo}"' if lo == hi else f"[{lo}-{hi}]"
    if lo[0] == hi[0]:
        return f'"{lo[0]}" {_same_length_range(lo[1:], hi[1:])}'
    rest = len(lo) - 1
    parts = [f'"{lo[0]}" {_same_length_range(lo[1:], "9" * rest)}']
    if int(hi[0]) - int(lo[0]) > 1:
        middle = f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}]" if int(hi[0]) - int(lo[0]) > 2 else f'"{int(lo[0]) + 1}"'
        parts.append(f"{middle} [0-9]{{{rest}}}" if rest > 1 else f"{middle} [0-9]")
    parts.append(f'"{hi[0]}" {_same_length_range("0" * rest, hi[1:])}')
    return "(" + " | ".join(parts) + ")"


def _natural_range(lo: int, hi: int) -> str:
    """GBNF for the integers lo..hi (0 <= lo <= hi), without leading zeros."""
    alternatives = []
    for digits in range(len(str(lo)), len(str(hi)) + 1):
        start = max(lo, 10 ** (digits - 1) if digits > 1 else 0)
        end = min(hi, 10**digits - 1)
        if start <= end:
            alternatives.append(_same_length_range(str(start), str(end)))
    return alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")"


def integer_range(lo: int, hi: int) -> tuple[str, int]:
    """GBNF for the integers lo..hi, and the longest one's length."""
    if lo > hi:
        raise GrammarError(f"empty integer range {lo}..{hi}")
    alternatives = []
    if lo < 0:
        alternatives.append('"-" ' + _natural_range(max(1, -hi), -lo))
    if hi >= 0:
        alternatives.append(_natural_range(max(0, lo), hi))
    expr = alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")"
    return expr, max(len(str(lo)), len(str(hi)))


# -- regex patterns ------------------------------------------------------------------------------


class _PatternParser:
    """A bounded translation of the regex subset JSON-schema patterns use: literals, escapes
    (\\d \\w \\s and their negations), classes, groups, alternation, ? * + {m} {m,} {m,n}."""

    def __init__(self, pattern: str, bound: int) -> None:
        self.text = pattern
        self.pos = 0
        self.bound = bound

    def parse(self) -> tuple[str, int]:
        if self.text.startswith("^"):
            self.pos = 1
        else:  # unanchored: JSON schema means "contains"; we emit a whole-string match, stricter
            pass
        expr = self._alternation()
        if self.pos < len(self.text) and self.text[self.pos] == "$":
            self.pos += 1
        if self.pos != len(self.text):
            raise GrammarError(f"unsupported pattern syntax at {self.text[self.pos:]!r} in {self.text!r}")
        return expr

    def _peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def _alternation(self) -> tuple[str, int]:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._sequence())
        if len(branches) == 1:
            return branches[0]
        return "(" + " | ".join(b[0] for b in branches) + ")", max(b[1] for b in branches)

    def _sequence(self) -> tuple[str, int]:
        parts: list[tuple[str, int]] = []
        while (ch := self._peek()) is not None and ch not in "|)":
            if ch == "$" and self.pos == len(self.text) - 1:
                break
            atom = self._atom()
            parts.append(self._quantified(atom))
        if not parts:
            return '""', 0
        return " ".join(p[0] for p in parts), sum(p[1] for p in parts)

    def _quantified(self, atom: tuple[str, int]) -> tuple[str, int]:
        ch = self._peek()
        low, high = 1, 1
        if ch == "?":
            low, high = 0, 1
        elif ch == "*":
            low, high = 0, self.bound
        elif ch == "+":
            low, high = 1, self.bound
        elif ch == "{":
            match = re.match(r"\{(\d+)(,(\d*))?\}", self.text[self.pos:])
            if not match:
                raise GrammarError(f"bad quantifier in pattern {self.text!r}")
            low = int(match.group(1))
            high = low if match.group(2) is None else int(match.group(3)) if match.group(3) else max(low, self.bound)
            self.pos += len(match.group(0)) - 1
        else:
            return atom
        self.pos += 1
        if self._peek() in ("?", "+"):  # lazy / possessive: same language
            self.pos += 1
        expr, length = atom
        if (low, high) == (0, 1):
            return f"({expr})?", length
        return f"({expr}){{{low},{high}}}" if low != high else f"({expr}){{{low}}}", length * high

    def _atom(self) -> tuple[str, int]:
        ch = self.text[self.pos]
        if ch == "(":
            self.pos += 1
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.text.startswith("?", self.pos):
                raise GrammarError(f"unsupported group in pattern {self.text!r}")
            inner = self._alternation()
            if self._peek() != ")":
                raise GrammarError(f"unbalanced parenthesis in pattern {self.text!r}")
            self.pos += 1
            return f"({inner[0]})", inner[1]
        if ch == "[":
            return self._class()
        if ch == ".":
            self.pos += 1
            return _STRING_CHAR, 1
        if ch == "\\":
            self.pos += 2
            escaped = self.text[self.pos - 1: self.pos]
            shorthand = _SHORTHANDS.get(escaped)
            if shorthand is not None:
                ranges, negated = shorthand
                return self._char_set(ranges, negated), 1
            return self._literal_char(escaped)
        if ch in "*+?{":
            raise GrammarError(f"quantifier without a target in pattern {self.text!r}")
        self.pos += 1
        return self._literal_char(ch)

    @staticmethod
    def _literal_char(ch: str) -> tuple[str, int]:
        encoded = json.dumps(ch, ensure_ascii=False)[1:-1]  # '"' and '\' need a JSON escape
        if len(encoded) > 1 and ch not in '"\\':
            raise GrammarError(f"pattern character {ch!r} cannot appear in a tool argument")
        return literal(encoded), len(encoded)

    def _class(self) -> tuple[str, int]:
        self.pos += 1
        negated = self._peek() == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            ch = self._peek()
            if ch is None:
                raise GrammarError(f"unterminated character class in pattern {self.text!r}")
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            if ch == "\\":
                escaped = self.text[self.pos + 1]
                self.pos += 2
                if escaped in _SHORTHANDS and not _SHORTHANDS[escaped][1]:
                    ranges.extend(_SHORTHANDS[escaped][0])
                    continue
                if escaped in _SHORTHANDS:
                    raise GrammarError(f"negated shorthand inside a class in pattern {self.text!r}")
                start = ord({"n": "\n", "t": "\t", "r": "\r"}.get(escaped, escaped))
            else:
                self.pos += 1
                start = ord(ch)
            if self._peek() == "-" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] != "]":
                end_char = self.text[self.pos + 1]
                self.pos += 2
                if end_char == "\\":
                    end_char = self.text[self.pos]
                    self.pos += 1
                ranges.append((start, ord(end_char)))
            else:
                ranges.append((start, start))
        return self._char_set(ranges, negated), 1

    def _char_set(self, ranges: list[tuple[int, int]], negated: bool) -> str:
        if negated:
            return _render_class(list(ranges) + _FORBIDDEN_RANGES, True)
        allowed = _subtract(ranges, _FORBIDDEN_RANGES)
        if not allowed:
            raise GrammarError(f"character class allows nothing JSON-safe in pattern {self.text!r}")
        return _render_class(allowed, False)


_DIGITS = [(0x30, 0x39)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE = [(0x20, 0x20)]  # tabs and newlines would need JSON escapes: spaces only
_SHORTHANDS = {"d": (_DIGITS, False), "w": (_WORD, False), "s": (_SPACE, False),
               "D": (_DIGITS, True), "W": (_WORD, True), "S": (_SPACE, True)}


def pattern_rule(pattern: str, bound: int) -> tuple[str, int]:
    """The body (without quotes) of a string matching `pattern`, and its longest length."""
    return _PatternParser(pattern, bound).parse()


# -- schemas -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    string: int  # characters of a string without maxLength (and the cap of every maxLength)
    array: int  # items of an array without maxItems (and the cap of every maxItems)


class _Converter:
    def __init__(self, root_schema: dict, bounds: Bounds) -> None:
        self.root = root_schema
        self.bounds = bounds

    # Each visit returns (GBNF expression, maximum length in characters).
    def visit(self, schema: Any, depth: int = 0) -> tuple[str, int]:
        if schema is True or schema == {} or schema is None:
            return self.any_value(ANY_VALUE_DEPTH)
        if schema is False:
            raise GrammarError("schema `false` admits no value")
        if not isinstance(schema, dict):
            raise GrammarError(f"a schema must be an object, not {type(schema).__name__}")
        schema = self.resolve(schema, depth)
        if "$ref" in schema:  # resolved to another ref: one more level
            return self.visit(schema, depth + 1)
        if "const" in schema:
            return json_literal(schema["const"])
        if "enum" in schema:
            values = schema["enum"]
            if not values:
                raise GrammarError("empty enum")
            return self.alternatives([json_literal(v) for v in values])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k not in (key, "default", "title", "description")}
                options = [self.visit({**rest, **self.resolve(option, depth)} if rest else option, depth + 1)
                           for option in schema[key]]
                return self.alternatives(options)
        kind = schema.get("type")
        if isinstance(kind, list):
            return self.alternatives([self.visit({**schema, "type": k}, depth) for k in kind])
        if kind is None:
            if "properties" in schema or "additionalProperties" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            elif any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
                kind = "string"
            else:
                return self.any_value(ANY_VALUE_DEPTH)
        visitor = getattr(self, f"visit_{kind}", None)
        if visitor is None:
            raise GrammarError(f"unknown schema type {kind!r}")
        return visitor(schema, depth)

    def resolve(self, schema: dict, depth: int) -> dict:
        """Follow a $ref and merge allOf, keeping sibling keywords."""
        if depth > MAX_REF_DEPTH:
            raise GrammarError("schema nests too deeply (recursive $ref?)")
        if "$ref" in schema:
            ref = schema["$ref"]
            match = re.match(r"^#/(\$defs|definitions)/(.+)$", ref)
            if not match or match.group(2) not in self.root.get(match.group(1), {}):
                raise GrammarError(f"cannot resolve $ref {ref!r}")
            target = self.root[match.group(1)][match.group(2)]
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            return self.resolve({**target, **siblings}, depth + 1)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part, depth + 1)
                for key, value in part.items():
                    if key == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **value}
                    elif key == "required":
                        merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
                    else:
                        merged.setdefault(key, value)
            return merged
        return schema

    @staticmethod
    def alternatives(options: list[tuple[str, int]]) -> tuple[str, int]:
        unique = list(dict.fromkeys(o[0] for o in options))
        expr = unique[0] if len(unique) == 1 else "(" + " | ".join(unique) + ")"
        return expr, max(o[1] for o in options)

    # -- scalars

    def visit_null(self, schema, depth):
        return '"null"', 4

    def visit_boolean(self, schema, depth):
        return '("true" | "false")', 5

    def visit_integer(self, schema, depth):
        limit = 10**MAX_INT_DIGITS - 1
        lo, hi = -limit, limit
        if "minimum" in schema:
            lo = max(lo, math.ceil(schema["minimum"]))
        if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
            lo = max(lo, math.floor(schema["exclusiveMinimum"]) + 1)
        if "maximum" in schema:
            hi = min(hi, math.floor(schema["maximum"]))
        if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
            hi = min(hi, math.ceil(schema["exclusiveMaximum"]) - 1)
        if "multipleOf" in schema:
            raise GrammarError("multipleOf is not supported")
        return integer_range(lo, hi)

    def visit_number(self, schema, depth):
        bounded = any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
        if not bounded:
            integral, length = integer_range(-(10**MAX_INT_DIGITS - 1), 10**MAX_INT_DIGITS - 1)
            return f'{integral} ("." [0-9]{{1,{FRACTION_DIGITS}}})?', length + 1 + FRACTION_DIGITS
        # With a bound, integral values only: a fraction could step over it (10.5 > le=10).
        return self.visit_integer(schema, depth)

    def visit_string(self, schema, depth):
        fmt = schema.get("format")
        if "pattern" in schema:
            body, length = pattern_rule(schema["pattern"], self.bounds.string)
        elif fmt in _FORMAT_PATTERNS:
            body, length = pattern_rule(_FORMAT_PATTERNS[fmt], self.bounds.string)
        else:
            low = int(schema.get("minLength", 0))
            high = min(int(schema.get("maxLength", self.bounds.string)), self.bounds.string)
            high = max(high, low)
            if high == 0:
                return '"\\"\\""', 2
            tail = f"{_STRING_CHAR}{{{max(low - 1, 0)},{high - 1}}}" if high > 1 else ""
            body = f"{_FIRST_CHAR} {tail}".strip()
            if low == 0:
                body = f"({body})?"
            length = high
        return f'"\\"" {body} "\\""', length + 2

    # -- containers

    def visit_array(self, schema, depth):
        if "prefixItems" in schema:
            items = [self.visit(item, depth + 1) for item in schema["prefixItems"]]
            if not items:
                return '"[]"', 2
            expr = ' "," '.join(i[0] for i in items)
            return f'"[" {expr} "]"', 2 + sum(i[1] for i in items) + len(items) - 1
        low = int(schema.get("minItems", 0))
        high = min(int(schema.get("maxItems", self.bounds.array)), self.bounds.array)
        if schema.get("uniqueItems"):
            high = min(high, 1)  # one item is always unique
        high = max(high, low)
        if high == 0:
            return '"[]"', 2
        item, item_length = self.visit(schema.get("items", True), depth + 1)
        more = f'("," {item}){{{max(low - 1, 0)},{high - 1}}}' if high > 1 else ""
        body = f"{item} {more}".strip()
        if low == 0:
            body = f"({body})?"
        return f'"[" {body} "]"', 2 + high * item_length + high - 1

    def visit_object(self, schema, depth):
        properties = schema.get("properties") or {}
        required = [name for name in schema.get("required", []) if name in properties]
        missing = [name for name in schema.get("required", []) if name not in properties]
        if missing and not schema.get("additionalProperties"):
            raise GrammarError(f"required properties without a schema: {missing}")
        if not properties:
            # `properties: {}` (a pydantic model without fields) means no members; a bare
            # object or `additionalProperties: X` (dict[str, X]) means free keys.
            extra = schema.get("additionalProperties", "properties" not in schema)
            if extra is False:
                return '"{}"', 2
            return self.free_object(extra, depth)
        members = {}
        optional = [name for name in properties if name not in required]
        for name, sub in properties.items():
            key, key_length = json_literal(name)
            value, value_length = self.visit_optional(sub, depth + 1) if name in optional else self.visit(sub, depth + 1)
            members[name] = (f'{key} ":" {value}', key_length + 1 + value_length)
        parts = [members[name][0] for name in required]
        body = ' "," '.join(parts)
        if optional:
            chains = [members[name][0] for name in optional]
            if required:
                body += " " + " ".join(f'("," {c})?' for c in chains)
            else:
                starts = []
                for i, head in enumerate(chains):
                    rest = " ".join(f'("," {c})?' for c in chains[i + 1:])
                    starts.append(f"{head} {rest}".strip())
                body = "(" + " | ".join(starts) + ")?"
        length = 2 + sum(m[1] for m in members.values()) + max(len(members) - 1, 0)
        return f'"{{" {body} "}}"', length

    def visit_optional(self, schema: Any, depth: int) -> tuple[str, int]:
        """Optional members get a quarter of the bounds: the budget goes to what is required."""
        full = self.bounds
        self.bounds = Bounds(max(1, full.string // 4), max(1, full.array // 2))
        try:
            return self.visit(schema, depth)
        finally:
            self.bounds = full

    def free_object(self, value_schema: Any, depth: int) -> tuple[str, int]:
        """An object with free keys (dict[str, X]): up to the array bound of members."""
        count = self.bounds.array
        key, key_length = self.visit_string({"maxLength": min(32, self.bounds.string), "minLength": 1}, depth)
        value, value_length = self.visit(value_schema, depth + 1) if value_schema is not True else self.any_value(ANY_VALUE_DEPTH - 1)
        member = f'{key} ":" {value}'
        more = f'("," {member}){{0,{count - 1}}}' if count > 1 else ""
        return f'"{{" ({member} {more})? "}}"', 2 + count * (key_length + 1 + value_length) + count - 1

    def any_value(self, depth: int) -> tuple[str, int]:
        scalars = [self.visit_string({}, 0), self.visit_number({}, 0), self.visit_boolean({}, 0), self.visit_null({}, 0)]
        if depth <= 0:
            return self.alternatives(scalars)
        inner = self.any_value(depth - 1)
        count = self.bounds.array
        more = f'("," {inner[0]}){{0,{count - 1}}}' if count > 1 else ""
        array = (f'"[" ({inner[0]} {more})? "]"', 2 + count * inner[1] + count - 1)
        return self.alternatives([*scalars, array, self.free_object_any(depth - 1)])

    def free_object_any(self, depth: int) -> tuple[str, int]:
        count = self.bounds.array
        key, key_length = self.visit_string({"maxLength": min(32, self.bounds.string), "minLength": 1}, 0)
        value, value_length = self.any_value(depth)
        member = f'{key} ":" {value}'
        more = f'("," {member}){{0,{count - 1}}}' if count > 1 else ""
        return f'"{{" ({member} {more})? "}}"', 2 + count * (key_length + 1 + value_length) + count - 1


def schema_rule(schema: dict, bounds: Bounds) -> tuple[str, int]:
    """GBNF expression for one JSON schema, and the longest value's length in characters."""
    return _Converter(schema, bounds).visit(schema)


# -- tool calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallShape:
    """How a prompt format writes one tool call: `prefix` + {"name":..,"arguments":..} + `suffix`.
    `text_excludes` is the character plain text may not start with in `auto` mode."""

    prefix: str
    suffix: str
    text_excludes: str
    empty: str | None = None  # a "no call" answer the format allows in auto mode (xLAM: [] calls)


@dataclass(frozen=True)
class ToolGrammar:
    gbnf: str
    max_call_chars: int  # the longest tool call the grammar admits
    bounds: Bounds
    fits: bool  # max_call_chars <= max_tokens


def tool_name(tool: dict) -> str:
    return tool["function"]["name"]


def tool_parameters(tool: dict) -> dict:
    parameters = tool["function"].get("parameters")
    return parameters if isinstance(parameters, dict) and parameters else {"type": "object", "properties": {}}


def _grammar_text(tools: list[dict], choice: str, shape: CallShape, bounds: Bounds) -> tuple[str, int]:
    calls = []
    for tool in tools:
        args, args_length = schema_rule(tool_parameters(tool), bounds)
        if not args.startswith('"{"') and args != '"{}"':
            raise GrammarError(f"tool {tool_name(tool)!r}: parameters must be an object schema")
        head = '{"name":' + json.dumps(tool_name(tool), ensure_ascii=False) + ',"arguments":'
        calls.append((f"{literal(head)} {args} {literal('}')}", len(head) + args_length + 1))
    call, call_length = _Converter.alternatives(calls)
    rules = [f"call ::= {literal(shape.prefix)} {call} {literal(shape.suffix)}"]
    total = len(shape.prefix) + call_length + len(shape.suffix)
    if choice == "auto":
        text_first = _render_class(_subtract([(0x01, 0x10FFFF)], [(ord(shape.text_excludes),) * 2]), False)
        rules.insert(0, "root ::= call | text" + (f" | {literal(shape.empty)}" if shape.empty else ""))
        rules.append(f"text ::= {text_first} [^\\x00]*")
    else:
        rules.insert(0, "root ::= call")
    return "\n".join(rules) + "\n", total


@lru_cache(maxsize=256)
def _cached_grammar(tools_json: str, choice: str, shape: CallShape, max_tokens: int,
                    max_string: int, max_array: int) -> ToolGrammar:
    tools = json.loads(tools_json)
    if choice not in ("auto", "required"):
        tools = [t for t in tools if tool_name(t) == choice]
        if not tools:
            raise GrammarError(f"tool_choice names an unknown function {choice!r}")
    # The largest string bound whose longest call still fits max_tokens (binary search);
    # if even the smallest does not fit, also shrink the array bound.
    for array_bound in dict.fromkeys((max_array, 1)):
        low, high = 1, max_string
        best = None
        while low <= high:
            middle = (low + high) // 2
            text, length = _grammar_text(tools, choice, shape, Bounds(middle, array_bound))
            if length <= max_tokens:
                best = (text, length, Bounds(middle, array_bound))
                low = middle + 1
            else:
                high = middle - 1
        if best is not None:
            return ToolGrammar(best[0], best[1], best[2], True)
    bounds = Bounds(1, 1)
    text, length = _grammar_text(tools, choice, shape, bounds)
    return ToolGrammar(text, length, bounds, False)


def build_tool_grammar(tools: list[dict], choice: str, shape: CallShape, *, max_tokens: int,
                       max_string_length: int = 256, max_array_items: int = 8) -> ToolGrammar:
    """The grammar for one answer given `tools` (OpenAI shape) and `choice` ("auto",
    "required" or a function name). Cached per tool set, choice and budget."""
    tools_json = json.dumps(tools, ensure_ascii=False)  # key order matters: properties keep theirs
    return _cached_grammar(tools_json, choice, shape, max_tokens, max_string_length, max_array_items)


# -- validation ----------------------------------------------------------------------------------


def validate(schema: Any, value: Any, root: dict | None = None, path: str = "$") -> list[str]:
    """Problems of `value` against `schema` (the JSON-schema subset above); [] when valid."""
    root = root if root is not None else schema if isinstance(schema, dict) else {}
    if schema is True or schema is None or schema == {}:
        return []
    if schema is False:
        return [f"{path}: no value is allowed"]
    converter = _Converter(root, Bounds(1, 1))
    try:
        schema = converter.resolve(schema, 0)
    except GrammarError as error:
        return [f"{path}: {error}"]
    if "const" in schema and value != schema["const"]:
        return [f"{path}: must be {schema['const']!r}"]
    if "enum" in schema and not any(_json_equal(value, v) for v in schema["enum"]):
        return [f"{path}: must be one of {schema['enum']!r}"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            rest = {k: v for k, v in schema.items() if k != key}
            if not any(not validate({**rest, **converter.resolve(o, 0)}, value, root, path) for o in schema[key]):
                return [f"{path}: matches none of {key}"]
    kind = schema.get("type")
    if isinstance(kind, list):
        if not any(_is_type(value, k) for k in kind):
            return [f"{path}: must be one of types {kind}"]
    elif kind is not None and not _is_type(value, kind):
        return [f"{path}: must be of type {kind}"]
    problems: list[str] = []
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: does not match {schema['pattern']!r}")
        if schema.get("format") and not _format_ok(schema["format"], value):
            problems.append(f"{path}: not a valid {schema['format']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, test in (("minimum", lambda v, b: v >= b), ("maximum", lambda v, b: v <= b),
                          ("exclusiveMinimum", lambda v, b: v > b), ("exclusiveMaximum", lambda v, b: v < b)):
            if key in schema and not isinstance(schema[key], bool) and not test(value, schema[key]):
                problems.append(f"{path}: violates {key} {schema[key]}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: more than {schema['maxItems']} items")
        prefix = schema.get("prefixItems") or []
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items", True)
            problems += validate(sub, item, root, f"{path}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{path}: missing required property {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += validate(properties[name], item, root, f"{path}.{name}")
            elif extra is False:
                problems.append(f"{path}: unexpected property {name!r}")
            elif isinstance(extra, dict):
                problems += validate(extra, item, root, f"{path}.{name}")
    return problems


def _json_equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)
        and not isinstance(b, bool) and a == b
    )


_PYTHON_TYPES = {"string": str, "boolean": bool, "null": type(None), "array": list, "object": dict}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _PYTHON_TYPES.get(kind, object))


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt == "time":
            time.fromisoformat(value)
        elif fmt == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif fmt == "uuid":
            UUID(value)
        elif fmt in ("email", "idn-email"):
            return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None
        elif fmt in ("uri", "url"):
            return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", value) is not None
    except ValueError:
        return False
    return True
