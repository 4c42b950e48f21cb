"""The themes plugin's table: at most one theme per organization. A column left null takes the
default of `[plugins.themes.defaults]`, so changing a default reaches every theme that did not
set its own value."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel

COLOR_LENGTH = 64  # the longest normalised color: hsla(360, 100%, 100%, 0.123456) and spaces
FONT_LENGTH = 200
NAME_LENGTH = 100


class Theme(TenantModel):
    # colors and fonts as css.parse_color / css.parse_font_family normalised them; custom_css as
    # css.sanitize_css rebuilt it (never the text the admin sent)
    name = fields.CharField(max_length=NAME_LENGTH, null=True)
    primary_color = fields.CharField(max_length=COLOR_LENGTH, null=True)
    secondary_color = fields.CharField(max_length=COLOR_LENGTH, null=True)
    accent_color = fields.CharField(max_length=COLOR_LENGTH, null=True)
    background_color = fields.CharField(max_length=COLOR_LENGTH, null=True)
    text_color = fields.CharField(max_length=COLOR_LENGTH, null=True)
    font_family = fields.CharField(max_length=FONT_LENGTH, null=True)
    heading_font_family = fields.CharField(max_length=FONT_LENGTH, null=True)
    custom_css = fields.TextField(default="")
    is_active = fields.BooleanField(default=True)
    # the logo in the core's file store (purpose "themes.logo", private to this plugin)
    logo_file_id = fields.UUIDField(null=True)

    class Meta:
        table = "themes_themes"
        unique_together = (("org_id",),)
