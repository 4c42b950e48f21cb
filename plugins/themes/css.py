"""Safe CSS: colors and font families validated, `custom_css` re-serialized from an allowlist.

An organization's admin writes CSS that the organization's pages load for every visitor, so a
stylesheet is as dangerous as a script in the wrong hands: IE's `expression()` and `behavior`,
Firefox's `-moz-binding`, `javascript:` URLs, `@import` of a remote sheet, `url()` to another
origin (attribute selectors + background images leak a page's values, e.g. a CSRF token, one
request per character), and `</style>` breaking out of a <style> element into HTML.

`sanitize_css` does not look for these: it parses the text with tinycss2 (a CSS Syntax Level 3
parser, so escapes such as `\\65 xpression` and comments are decoded the way a browser decodes
them) and rebuilds a stylesheet from what it recognises, dropping the rest:

- rules: style rules, and `@media` around them; every other at-rule (`@import`, `@charset`,
  `@font-face`, `@namespace`, `@keyframes`...) is dropped;
- selectors: names, classes, ids, attributes, pseudo-classes and -elements, combinators, and
  the functional pseudo-classes in SELECTOR_FUNCTIONS;
- declarations: the properties in ALLOWED_PROPERTIES (colors, fonts and text, spacing, borders,
  backgrounds, sizes); values made of keywords, numbers with CSS units, hex colors, simple
  strings (font names) and the functions in VALUE_FUNCTIONS;
- `url()`: only a path on the Hub itself (`/...`, such as the theme's own logo): another origin,
  a protocol-relative `//host`, `javascript:`, and `data:` (images included: an SVG data URL is
  a document of its own) are dropped;
- anything unparseable, a string or identifier carrying `<`, a backslash or a dangerous word, and
  values nested deeper than MAX_DEPTH.

The output is the serialization of the kept tokens, so no comment, escape or `<` survives
(checked once more on every rule before it is kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import tinycss2

MAX_DEPTH = 16  # nested functions, blocks and @media levels (the serializer recurses)
MAX_MEDIA_DEPTH = 2
MAX_REPORTED = 50  # entries of `removed` (each says what was dropped and why)

COLOR_PROPERTIES = {
    "color", "background-color", "border-color", "border-top-color", "border-right-color",
    "border-bottom-color", "border-left-color", "outline-color", "text-decoration-color", "accent-color",
    "caret-color", "fill", "stroke", "column-rule-color",
}
FONT_PROPERTIES = {
    "font", "font-family", "font-size", "font-weight", "font-style", "font-variant", "font-stretch",
    "line-height", "letter-spacing", "word-spacing", "text-align", "text-decoration", "text-decoration-line",
    "text-decoration-style", "text-decoration-thickness", "text-transform", "text-shadow", "text-indent",
    "text-overflow", "white-space", "word-break", "overflow-wrap", "vertical-align",
}
SPACING_PROPERTIES = {
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "margin-block", "margin-inline",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left", "padding-block",
    "padding-inline", "gap", "row-gap", "column-gap",
}
BORDER_PROPERTIES = {
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-width", "border-style",
    "border-top-width", "border-right-width", "border-bottom-width", "border-left-width", "border-top-style",
    "border-right-style", "border-bottom-style", "border-left-style", "border-radius", "border-top-left-radius",
    "border-top-right-radius", "border-bottom-right-radius", "border-bottom-left-radius", "outline",
    "outline-width", "outline-style", "outline-offset", "box-shadow",
}
BACKGROUND_PROPERTIES = {
    "background", "background-image", "background-position", "background-size", "background-repeat",
    "background-clip", "background-origin",
}
BOX_PROPERTIES = {
    "width", "height", "min-width", "min-height", "max-width", "max-height", "opacity", "text-align",
    "list-style-type", "cursor", "transition", "transition-duration", "transition-property",
}
ALLOWED_PROPERTIES = frozenset(COLOR_PROPERTIES | FONT_PROPERTIES | SPACING_PROPERTIES | BORDER_PROPERTIES
                               | BACKGROUND_PROPERTIES | BOX_PROPERTIES)
VALUE_FUNCTIONS = frozenset({
    "rgb", "rgba", "hsl", "hsla", "var", "calc", "min", "max", "clamp", "linear-gradient", "radial-gradient",
    "conic-gradient", "repeating-linear-gradient", "repeating-radial-gradient", "url",
})
SELECTOR_FUNCTIONS = frozenset({
    "not", "is", "where", "nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type", "lang", "dir",
})
UNITS = frozenset({
    "px", "em", "rem", "ex", "ch", "lh", "rlh", "vw", "vh", "vmin", "vmax", "svw", "svh", "lvw", "lvh", "dvw",
    "dvh", "cqw", "cqh", "pt", "pc", "cm", "mm", "in", "q", "deg", "rad", "grad", "turn", "s", "ms", "fr",
    "dpi", "dpcm", "dppx", "x", "n",  # n: an+b in :nth-child()
})
VALUE_LITERALS = frozenset({",", "/", "+", "-", "*"})
SELECTOR_LITERALS = frozenset({".", ",", ">", "+", "~", "*", ":", "|"})
ATTRIBUTE_LITERALS = frozenset({"=", "~=", "|=", "^=", "$=", "*=", "|"})
# Words with no business in a theme, wherever they appear (identifiers, strings, names).
DANGEROUS_WORDS = ("expression", "javascript", "vbscript", "livescript", "behavior", "behaviour", "binding",
                   "mocha")

IDENT = re.compile(r"^(?:--|-?[A-Za-z_])[A-Za-z0-9_-]*$")
HASH = re.compile(r"^[A-Za-z0-9_-]+$")
SAFE_STRING = re.compile(r"^[\w .,\-]*$")  # font names, attribute values: no quote, colon, slash, <, \
SAME_ORIGIN_PATH = re.compile(r"^/(?!/)[A-Za-z0-9/_.\-]*$")


class Refused(ValueError):
    """Why a piece of CSS is dropped."""


@dataclass
class Sanitized:
    css: str
    removed: list[str] = field(default_factory=list)


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _safe_word(text: str, what: str) -> None:
    lowered = text.lower()
    for word in DANGEROUS_WORDS:
        if word in lowered:
            raise Refused(f"{what} containing '{word}'")


def _ident(token, what: str = "identifier") -> None:
    if not IDENT.match(token.value):
        raise Refused(f"{what} '{_clip(token.value, 30)}' with characters outside A-Z, 0-9, _ and -")
    _safe_word(token.value, what)


def _string(token) -> None:
    if not SAFE_STRING.match(token.value):
        raise Refused("a string with characters other than letters, digits, spaces, '.', ',' and '-'")
    _safe_word(token.value, "a string")


def _url(value: str) -> None:
    if not SAME_ORIGIN_PATH.match(value.strip()):
        raise Refused(f"url({_clip(value, 40)}): only a path on the Hub (/...) is allowed")


def _dimension(token) -> None:
    if token.lower_unit not in UNITS:
        raise Refused(f"the unit '{_clip(token.unit, 20)}'")


# -- the token loop -------------------------------------------------------------------------------------

# What a token of one kind must pass where it appears: None (allowed as it is) or a function of
# the token and the nesting depth that raises Refused. A kind missing from a table is refused.
Check = Callable[[Any, int], None]
Checks = dict[str, Check | None]


def _walk(tokens, checks: Checks, where: str, depth: int) -> None:
    """The one loop over a value's, a selector's, an attribute's or a media query's tokens:
    whitespace passes, every other token by its kind's check in `checks`."""
    if depth > MAX_DEPTH:
        raise Refused(f"{where} nested more than {MAX_DEPTH} levels")
    for token in tokens:
        if token.type == "whitespace":
            continue
        if token.type not in checks:
            raise Refused(f"a {token.type} in {where}")
        check = checks[token.type]
        if check is not None:
            check(token, depth)


def _literals(allowed: frozenset[str] | set[str] | tuple[str, ...], where: str) -> Check:
    def check(token, depth: int) -> None:
        if token.value not in allowed:
            raise Refused(f"'{_clip(token.value, 10)}' in {where}")
    return check


def _hash(what: str, named: str) -> Check:
    def check(token, depth: int) -> None:
        if not HASH.match(token.value):
            raise Refused(f"{what} with characters outside A-Z, 0-9, _ and -")
        _safe_word(token.value, named)
    return check


# -- values ---------------------------------------------------------------------------------------------


def _value_function(token, depth: int) -> None:
    if token.lower_name not in VALUE_FUNCTIONS:
        raise Refused(f"the function {_clip(token.name, 30)}()")
    if token.lower_name == "url":
        arguments = [t for t in token.arguments if t.type != "whitespace"]
        if len(arguments) != 1 or arguments[0].type != "string":
            raise Refused("url() without a single quoted path")
        _url(arguments[0].value)
    else:
        check_value(token.arguments, depth + 1)


VALUE_CHECKS: Checks = {
    "number": None, "percentage": None,
    "dimension": lambda token, depth: _dimension(token),
    "ident": lambda token, depth: _ident(token),
    "hash": _hash("a #name", "a #name"),
    "string": lambda token, depth: _string(token),
    "literal": _literals(VALUE_LITERALS, "a value"),
    "url": lambda token, depth: _url(token.value),
    "function": _value_function,
    "() block": lambda token, depth: check_value(token.content, depth + 1),
    # anything else ([] and {} blocks, @keywords, unicode ranges, comments, parse errors): refused
}


def check_value(tokens, depth: int = 0) -> None:
    """Raise Refused unless every token of a declaration's value is allowed."""
    _walk(tokens, VALUE_CHECKS, "a value", depth)


# -- selectors ------------------------------------------------------------------------------------------


def _selector_function(token, depth: int) -> None:
    if token.lower_name not in SELECTOR_FUNCTIONS:
        raise Refused(f"the selector function :{_clip(token.name, 30)}()")
    check_selector(token.arguments, depth + 1, inside_function=True)


SELECTOR_CHECKS: Checks = {
    "ident": lambda token, depth: _ident(token, "a selector name"),
    "hash": _hash("a #id", "a selector name"),
    "literal": _literals(SELECTOR_LITERALS, "a selector"),
    "[] block": lambda token, depth: _walk(token.content, ATTRIBUTE_CHECKS, "an attribute selector", depth + 1),
    "function": _selector_function,
}
# inside :nth-child(2n + 1), :not(...): numbers, units and the minus sign too
FUNCTION_SELECTOR_CHECKS: Checks = {
    **SELECTOR_CHECKS,
    "literal": _literals(frozenset(SELECTOR_LITERALS) | {"-"}, "a selector"),
    "number": None,
    "dimension": lambda token, depth: _dimension(token),
}
ATTRIBUTE_CHECKS: Checks = {
    "ident": lambda token, depth: _ident(token, "an attribute name"),
    "string": lambda token, depth: _string(token),
    "literal": _literals(ATTRIBUTE_LITERALS, "an attribute selector"),
}


def check_selector(tokens, depth: int = 0, inside_function: bool = False) -> None:
    if not any(token.type != "whitespace" for token in tokens):
        raise Refused("an empty selector")
    _walk(tokens, FUNCTION_SELECTOR_CHECKS if inside_function else SELECTOR_CHECKS, "a selector", depth)


# -- media queries --------------------------------------------------------------------------------------


MEDIA_CHECKS: Checks = {
    "number": None, "percentage": None,
    "ident": lambda token, depth: _ident(token, "a media feature"),
    "dimension": lambda token, depth: _dimension(token),
    "literal": _literals((",", ":", "/"), "a media query"),
    "() block": lambda token, depth: _media_condition(token.content, depth + 1),
}


def _media_condition(tokens, depth: int = 0) -> None:
    _walk(tokens, MEDIA_CHECKS, "a media query", depth)


# -- the stylesheet -------------------------------------------------------------------------------------


def _serialized(tokens) -> str:
    """The tokens as CSS text. tinycss2 separates two tokens that would read as one (`2n` `+1`)
    by an empty comment; a space separates them as well and leaves no comment in the output."""
    return " ".join(tinycss2.serialize(tokens).replace("/**/", " ").split())


def _kept(text: str) -> str:
    """Defence in depth: what the checks let through can hold no `<` (no `</style>` or `<!--`),
    no backslash (no escape) and no comment, whatever the serializer does."""
    if "<" in text or "\\" in text or "/*" in text:
        raise Refused("'<', '\\' or a comment in the output")
    return text


def _declarations(content, removed: list[str], indent: str) -> list[str]:
    kept = []
    for node in tinycss2.parse_declaration_list(content, skip_comments=True, skip_whitespace=True):
        if node.type != "declaration":
            removed.append(f"{'unparseable declaration' if node.type == 'error' else 'a nested ' + node.type}")
            continue
        name = node.lower_name
        if name not in ALLOWED_PROPERTIES:
            removed.append(f"property '{_clip(node.name, 40)}': not an allowed property")
            continue
        try:
            check_value(node.value)
            value = _serialized(node.value)
            if not value:
                raise Refused("an empty value")
            kept.append(_kept(f"{indent}  {name}: {value}{' !important' if node.important else ''};\n"))
        except Refused as reason:
            removed.append(f"property '{name}': {reason}")
    return kept


def _rules(nodes, removed: list[str], depth: int) -> list[str]:
    indent = "  " * depth
    out = []
    for node in nodes:
        if node.type == "qualified-rule":
            try:
                check_selector(node.prelude)
                selector = _kept(_serialized(node.prelude))
            except Refused as reason:
                removed.append(f"rule '{_clip(tinycss2.serialize(node.prelude[:40]))}': {reason}")
                continue
            declarations = _declarations(node.content, removed, indent)
            if declarations:
                out.append(f"{indent}{selector} {{\n{''.join(declarations)}{indent}}}\n")
        elif node.type == "at-rule":
            if node.lower_at_keyword != "media" or node.content is None or depth >= MAX_MEDIA_DEPTH:
                removed.append(f"@{_clip(node.at_keyword, 30)}: not an allowed at-rule"
                               if node.lower_at_keyword != "media" else "@media: nested too deep or without rules")
                continue
            try:
                _media_condition(node.prelude)
                condition = _kept(_serialized(node.prelude))
            except Refused as reason:
                removed.append(f"@media: {reason}")
                continue
            inner = _rules(tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True),
                           removed, depth + 1)
            if inner:
                out.append(f"{indent}@media {condition} {{\n{''.join(inner)}{indent}}}\n")
        elif node.type == "error":
            removed.append(f"unparseable CSS: {node.message}")
    return out


def sanitize_css(text: str) -> Sanitized:
    """`text` rebuilt from what is allowed, and what was dropped (why, per rule or declaration)."""
    removed: list[str] = []
    rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
    css = "".join(_rules(rules, removed, 0))
    if len(removed) > MAX_REPORTED:
        removed = removed[:MAX_REPORTED] + [f"... and {len(removed) - MAX_REPORTED} more"]
    return Sanitized(css, removed)


# -- colors and fonts -----------------------------------------------------------------------------------

HEX_COLOR = re.compile(r"^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$")
FUNCTIONAL_COLOR = re.compile(r"^(rgba?|hsla?)\(([^()]*)\)$")
NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d+)?|\.\d+)$")
COLOR_FORMS = ("#rgb, #rgba, #rrggbb, #rrggbbaa, rgb(0-255, 0-255, 0-255[, alpha 0-1]) or "
               "hsl(0-360, 0-100%, 0-100%[, alpha 0-1])")


def _number(text: str, low: float, high: float, what: str) -> float:
    if not NUMBER.match(text):
        raise ValueError(f"{what} {text!r} is not a number")
    value = float(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {text} is outside {low:g}-{high:g}")
    return value


def _percent_or_number(text: str, high: float, what: str) -> str:
    if text.endswith("%"):
        return f"{_number(text[:-1], 0, 100, what):g}%"
    return f"{_number(text, 0, high, what):g}"


def _alpha(text: str) -> str:
    if text.endswith("%"):
        return f"{_number(text[:-1], 0, 100, 'alpha') / 100:g}"
    return f"{_number(text, 0, 1, 'alpha'):g}"


def parse_color(value: str) -> str:
    """The color, normalised (lower case, `rgb(r, g, b)` / `rgba(r, g, b, a)` / `hsl(h, s%, l%)` /
    `hsla(...)`), or ValueError saying what is wrong with it."""
    text = " ".join(str(value).split()).lower()
    if HEX_COLOR.match(text):
        return text
    match = FUNCTIONAL_COLOR.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a color: use {COLOR_FORMS}")
    name, body = match.group(1), match.group(2).strip()
    if "," in body:
        parts = [part.strip() for part in body.split(",")]
    else:  # the space-separated syntax: rgb(255 0 0 / 50%)
        main, _, alpha = body.partition("/")
        parts = main.split() + ([alpha.strip()] if alpha.strip() else [])
    if len(parts) not in (3, 4):
        raise ValueError(f"{name}() takes 3 components and an optional alpha, not {len(parts)}")
    alpha = _alpha(parts[3]) if len(parts) == 4 else None
    if name.startswith("rgb"):
        channels = [_percent_or_number(part, 255, channel) for part, channel in zip(parts, ("red", "green", "blue"))]
    else:
        hue = parts[0].removesuffix("deg")
        channels = [f"{_number(hue, 0, 360, 'hue'):g}"]
        for part, what in zip(parts[1:3], ("saturation", "lightness")):
            if not part.endswith("%"):
                raise ValueError(f"hsl() {what} {part!r} must be a percentage (0-100%)")
            channels.append(f"{_number(part[:-1], 0, 100, what):g}%")
    base = name.rstrip("a")
    if alpha is None:
        return f"{base}({', '.join(channels)})"
    return f"{base}a({', '.join(channels)}, {alpha})"


GENERIC_FAMILIES = frozenset({
    "serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-serif", "ui-sans-serif",
    "ui-monospace", "ui-rounded", "emoji", "math", "fangsong",
})
FAMILY_NAME = re.compile(r"^[^\W_][\w .\-]{0,62}$")
MAX_FAMILIES = 10


def parse_font_family(value: str) -> str:
    """A font-family list, normalised (`"Open Sans", sans-serif`), or ValueError."""
    families = [part.strip() for part in str(value).split(",")]
    if not families or len(families) > MAX_FAMILIES:
        raise ValueError(f"give 1 to {MAX_FAMILIES} font families separated by commas")
    out = []
    for family in families:
        if len(family) >= 2 and family[0] == family[-1] and family[0] in "\"'":
            family = family[1:-1].strip()
        if family.lower() in GENERIC_FAMILIES:
            out.append(family.lower())
            continue
        if not FAMILY_NAME.match(family):
            raise ValueError(f"font family {family!r}: letters, digits, spaces, '.', '_' and '-' only "
                             "(at most 63 characters)")
        _check_word(family)
        out.append(f'"{" ".join(family.split())}"')
    return ", ".join(out)


def _check_word(text: str) -> None:
    try:
        _safe_word(text, "a font family")
    except Refused as reason:
        raise ValueError(str(reason)) from None
