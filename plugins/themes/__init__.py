"""Themes (seed 002 "Themes Service"): an organization's name, colors, fonts, logo and custom
CSS, read publicly (a login page shows them before anyone signs in) and changed by the
organization's admins. Colors are validated, custom CSS is rebuilt from an allowlist by a real
CSS parser, and logos are decoded and encoded again by Pillow, so nothing an admin uploads
reaches a visitor's browser as it was sent."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.themes.settings import ThemesSettings

    return ThemesSettings


def hub_models():
    return ["plugins.themes.models"]


def hub_routes(app):
    from plugins.themes.routes import bp

    return bp


def hub_permissions(register):
    register("themes.read", "Receive theme events (the theme itself is public)", "read")
    register("themes.manage", "Change the organization's theme and logo", "admin")


def hub_event_types(register):
    from plugins.themes.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="themes.read")
