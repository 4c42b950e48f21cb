"""The web dashboard (seed 000 "dashboard-streamlit", issue #22): server-rendered pages at
`/dashboard` for the people who use the Hub every day. Sign-in with the Hub's accounts (a browser
session of the core: HttpOnly cookie, CSRF token on every form, logout ends it); every page reads
and writes through the Hub's own JSON API, called in-process with the session's token, so the
API's permissions, tenancy, validation and plugin switches hold unchanged; menus show what the
member's role and the organization's plugins allow. htmx and uPlot are vendored: nothing is
loaded from a CDN."""

from __future__ import annotations

mount = "/dashboard"


def hub_config():
    from plugins.dashboard.settings import DashboardSettings

    return DashboardSettings


def hub_routes(app):
    from plugins.dashboard.routes import bp

    return bp
