"""Rendering templates: Jinja2 in an immutable sandbox (no attribute starting with "_", no
Python internals, no mutation of the data), HTML autoescaped, and a plain-text part made from
the HTML when a template has none. A template that reaches for what the sandbox forbids, or
that does not parse, is a 400 TEMPLATE_ERROR naming the part."""

from __future__ import annotations

import html as html_module
import re
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from core import HubError

MAX_RENDERED_CHARS = 1_000_000


@lru_cache(maxsize=2)
def environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    # StrictUndefined: a missing variable is the sender's mistake, said at once, not an empty hole
    return ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined)


def check(part: str, source: str | None, *, html: bool = False) -> None:
    """Refuse a template that does not parse (when it is saved)."""
    if source is None:
        return
    try:
        environment(html).parse(source)
    except TemplateError as error:
        raise _template_error(part, error) from None


def render(part: str, source: str | None, data: dict[str, Any], *, html: bool = False) -> str | None:
    if source is None:
        return None
    try:
        rendered = environment(html).from_string(source).render(data)
    except SecurityError as error:
        raise HubError("TEMPLATE_ERROR", f"The template's {part} uses something templates may not: {error}",
                       {"field": part, "reason": "unsafe", "error": str(error)[:300]}) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise _template_error(part, error) from None
    if len(rendered) > MAX_RENDERED_CHARS:
        raise HubError("TEMPLATE_ERROR", f"The template's {part} renders to more than {MAX_RENDERED_CHARS} characters",
                       {"field": part, "reason": "too_large"})
    return rendered


def _template_error(part: str, error: Exception) -> HubError:
    return HubError("TEMPLATE_ERROR", f"The template's {part} cannot be rendered: {error}",
                    {"field": part, "reason": "invalid", "error": str(error)[:300]})


class _TextOf(HTMLParser):
    """The readable text of an HTML document: blocks on their own lines, links with their URL,
    scripts and styles left out."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr"}
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.link: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self.link = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self.link:
            self.parts.append(f" ({self.link})")
            self.link = None

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def text_from_html(document: str) -> str:
    parser = _TextOf()
    parser.feed(document)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return html_module.unescape(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip())
