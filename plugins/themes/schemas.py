"""Request and response bodies of the themes routes (snake_case, seed 002 "Themes Service"),
and the payload of the `theme.updated` event."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from core import EventPayload, SnakeModel, Timestamp
from plugins.themes import css
from plugins.themes.models import COLOR_LENGTH, FONT_LENGTH, NAME_LENGTH

CUSTOM_CSS_LENGTH = 50_000
COLOR_FIELDS = ("primary_color", "secondary_color", "accent_color", "background_color", "text_color")
FONT_FIELDS = ("font_family", "heading_font_family")


def _color(description: str):
    return Field(None, max_length=COLOR_LENGTH, description=f"{description}: {css.COLOR_FORMS}; null: the default")


def _font(description: str):
    return Field(None, max_length=FONT_LENGTH,
                 description=f'{description}: font families separated by commas, e.g. "Inter", sans-serif; '
                             "null: the default")


class ThemeUpdate(SnakeModel):
    """What PUT changes: only the fields sent (null puts a field back to its default)."""

    name: str | None = Field(None, min_length=1, max_length=NAME_LENGTH)
    primary_color: str | None = _color("the main brand color")
    secondary_color: str | None = _color("the second color")
    accent_color: str | None = _color("highlights")
    background_color: str | None = _color("the page's background")
    text_color: str | None = _color("the body text")
    font_family: str | None = _font("the body text's fonts")
    heading_font_family: str | None = _font("the headings' fonts")
    custom_css: str | None = Field(None, max_length=CUSTOM_CSS_LENGTH, description=(
        "CSS added after the generated custom properties, rebuilt from an allowlist (colors, fonts, spacing, "
        "borders, backgrounds, sizes; @media; url() only to a path on the Hub): what is dropped is listed "
        "in the answer's `css_removed`"))
    is_active: bool | None = Field(None, description="false: GET .../css serves the default theme")

    @field_validator(*COLOR_FIELDS)
    @classmethod
    def _colors(cls, value: str | None) -> str | None:
        return None if value is None else css.parse_color(value)

    @field_validator(*FONT_FIELDS)
    @classmethod
    def _fonts(cls, value: str | None) -> str | None:
        return None if value is None else css.parse_font_family(value)


class ThemeOut(SnakeModel):
    id: str | None = Field(description="null until the organization's admin first saves a theme")
    organization_id: str
    name: str
    logo_url: str | None = Field(description="the Hub's URL of the uploaded logo (GET .../logo), or null")
    primary_color: str
    secondary_color: str
    accent_color: str
    background_color: str
    text_color: str
    font_family: str
    heading_font_family: str
    custom_css: str
    is_active: bool
    css_url: str = Field(description="the generated stylesheet (GET .../css)")
    created_at: Timestamp | None
    updated_at: Timestamp | None


class ThemeSaved(ThemeOut):
    css_removed: list[str] = Field(description="what custom_css lost to the allowlist, and why (empty: nothing)")


class LogoUpload(BaseModel):
    """multipart/form-data with the image in the part `file`: PNG, JPEG or WebP (SVG is refused)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


class ThemeUpdated(EventPayload):
    id: str
    organization_id: str
    changed: list[str] = Field(description="the fields that changed (`logo` for an uploaded or deleted logo)")


EVENT_TYPES: list[tuple[str, type[EventPayload], str]] = [
    ("theme.updated", ThemeUpdated, "The organization's theme (colors, fonts, CSS or logo) changed"),
]
