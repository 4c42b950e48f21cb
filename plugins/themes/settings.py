"""Settings of the themes plugin (`[plugins.themes]` in config/hub.toml,
`HUB_PLUGINS__THEMES__<KEY>` in the environment), and the theme an organization has until its
admin sets one (`[plugins.themes.defaults]`)."""

from __future__ import annotations

from PIL import Image
from pydantic import BaseModel, Field, field_validator

from plugins.themes import css

# Pillow warns past MAX_IMAGE_PIXELS and refuses past twice that; the plugin's own bound stays
# below, so its check (made before any pixel is decoded) is the one that applies.
PILLOW_PIXEL_BOUND = Image.MAX_IMAGE_PIXELS or 89_478_485


class ThemeDefaults(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field("Default", min_length=1, max_length=100)
    primary_color: str = "#3b82f6"
    secondary_color: str = "#64748b"
    accent_color: str = "#f59e0b"
    background_color: str = "#ffffff"
    text_color: str = "#0f172a"
    font_family: str = "system-ui, sans-serif"
    heading_font_family: str = "system-ui, sans-serif"

    @field_validator("primary_color", "secondary_color", "accent_color", "background_color", "text_color")
    @classmethod
    def _color(cls, value: str) -> str:
        return css.parse_color(value)

    @field_validator("font_family", "heading_font_family")
    @classmethod
    def _fonts(cls, value: str) -> str:
        return css.parse_font_family(value)


class ThemesSettings(BaseModel):
    model_config = {"extra": "forbid"}

    # an uploaded logo file, before it is decoded (its multipart body may be 64 KiB more)
    max_logo_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    # width x height of an uploaded logo: larger ones are refused before a pixel is decoded
    # (a decompression bomb: a few KB of PNG that would decode into gigabytes)
    max_logo_pixels: int = Field(25_000_000, ge=1, le=PILLOW_PIXEL_BOUND)
    # the stored logo fits in this many pixels on its longer side (resized, aspect kept)
    logo_max_side: int = Field(512, ge=16, le=4096)
    # Cache-Control max-age of GET .../css and .../logo (their ETag revalidates them after)
    cache_max_age_seconds: int = Field(60, ge=0, le=86_400)
    defaults: ThemeDefaults = Field(default_factory=ThemeDefaults)
