"""A rule's message template: Jinja2 in an immutable sandbox (no attribute of Python's internals,
no method that changes a value), with the event as `event` (`type`, `id`, `timestamp`) and its
data as `data`: `New lead: *{{ data.name }}* ({{ data.email }})`.

Every value a template prints is escaped for Slack's text format (`&`, `<`, `>`), so an event's
data cannot turn into a mention (`<!channel>`) or a link; the template's own text is the rule
author's and is sent as written. A missing field prints nothing. The result is cut at Slack's
40,000 characters."""

from __future__ import annotations

from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEXT = 40_000


def slack_escape(value: Any) -> str:
    """A value as Slack shows it literally (https://docs.slack.dev/messaging/formatting-message-text)."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


ENVIRONMENT = ImmutableSandboxedEnvironment(autoescape=False, undefined=ChainableUndefined, finalize=slack_escape)


class TemplateProblem(ValueError):
    """A template that does not parse, or cannot be rendered (an unsafe expression...)."""


def check(source: str) -> None:
    try:
        ENVIRONMENT.parse(source)
    except TemplateError as error:
        raise TemplateProblem(f"the template does not parse: {error}") from None


def render(source: str, event: dict[str, Any], data: Any) -> str:
    try:
        text = ENVIRONMENT.from_string(source).render(event=event, data=data)
    except TemplateError as error:  # SecurityError included
        raise TemplateProblem(f"the template cannot be rendered: {error}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise TemplateProblem(f"the template cannot be rendered: {type(error).__name__}: {error}") from None
    return text[:MAX_TEXT]
