"""Helpers of the themes tests: uploads, images, and the check that a stylesheet is safe."""

from __future__ import annotations

import io
import re

import tinycss2
from PIL import Image
from quart.datastructures import FileStorage

from plugins.themes import css


def image_bytes(size=(800, 400), kind="PNG", mode="RGBA", color=(10, 120, 200, 255), **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color if mode != "1" else 1).save(out, kind, **save)
    return out.getvalue()


async def upload_logo(api, data: bytes, name="logo.png", content_type="image/png", org_id=None):
    """(status, body) of POST /api/v1/themes/{org}/logo with `data` as the part `file`."""
    part = FileStorage(io.BytesIO(data), filename=name, content_type=content_type)
    response = await api.client.post(f"/api/v1/themes/{org_id or api.org_id}/logo", files={"file": part},
                                     headers=api.headers)
    return response.status_code, await response.get_json()


ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\\n|\\(.)", re.S)
FORBIDDEN_TEXT = ("expression", "javascript", "vbscript", "behavior", "behaviour", "binding", "@import",
                  "@charset", "@font-face", "@namespace", "</style", "<", "data:", "progid", "-o-link",
                  "image-set", "\\", "/*", "attacker", "evil", "http", "//", "alert")


def decoded(text: str) -> str:
    """The text as a CSS tokenizer reads it: escapes decoded, comments gone, in lower case."""
    def one(match):
        if match.group(1):
            return chr(min(int(match.group(1), 16), 0x10FFFF) or 0xFFFD)
        return match.group(2) or ""
    return re.sub(r"/\*.*?(\*/|$)", "", ESCAPE.sub(one, text), flags=re.S).lower()


def _walk_value(tokens, problems):
    for token in tokens:
        if token.type == "url":
            if not css.SAME_ORIGIN_PATH.match(token.value):
                problems.append(f"url {token.value}")
        elif token.type == "function":
            if token.lower_name not in css.VALUE_FUNCTIONS | css.SELECTOR_FUNCTIONS:
                problems.append(f"function {token.name}")
            if token.lower_name == "url":
                strings = [t.value for t in token.arguments if t.type == "string"]
                if not strings or not all(css.SAME_ORIGIN_PATH.match(s) for s in strings):
                    problems.append(f"url() {strings}")
            _walk_value(token.arguments, problems)
        elif token.type in ("() block", "[] block", "{} block"):
            _walk_value(token.content, problems)
        elif token.type in ("error", "at-keyword", "comment"):
            problems.append(token.type)


def _walk_rules(rules, problems):
    for rule in rules:
        if rule.type == "at-rule":
            if rule.lower_at_keyword != "media":
                problems.append(f"@{rule.at_keyword}")
            _walk_value(rule.prelude, problems)
            _walk_rules(tinycss2.parse_rule_list(rule.content or []), problems)
        elif rule.type == "qualified-rule":
            _walk_value(rule.prelude, problems)
            for node in tinycss2.parse_declaration_list(rule.content):
                if node.type == "declaration":
                    # the generated custom properties (--theme-primary-color, ...) are the Hub's own
                    if node.lower_name not in css.ALLOWED_PROPERTIES and not node.lower_name.startswith("--theme-"):
                        problems.append(f"property {node.name}")
                    _walk_value(node.value, problems)
                elif node.type not in ("whitespace", "comment"):
                    problems.append(f"in a rule: {node.type}")
                elif node.type == "comment":
                    problems.append("comment")
        elif rule.type == "error":
            problems.append(f"unparseable: {rule.message}")
        elif rule.type == "comment":
            problems.append("comment")


def dangers(stylesheet: str) -> list[str]:
    """What in `stylesheet` is not allowed: re-parsed (at-rules, properties, functions, URLs,
    comments, errors) and read as text with escapes decoded."""
    problems: list[str] = []
    _walk_rules(tinycss2.parse_stylesheet(stylesheet, skip_whitespace=True), problems)
    text = decoded(stylesheet)
    problems += [f"text {word!r}" for word in FORBIDDEN_TEXT if word in text]
    for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", text):
        if not css.SAME_ORIGIN_PATH.match(url):
            problems.append(f"text url({url})")
    return problems
