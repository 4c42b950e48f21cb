"""Themes routes (seed 002 "Themes Service"), at the root mount:

    GET    /api/v1/themes/{org_id}         the theme (its values over the defaults)   public
    PUT    /api/v1/themes/{org_id}         change it                                  themes.manage, that organization
    POST   /api/v1/themes/{org_id}/logo    upload the logo (multipart, part `file`)   themes.manage, that organization
    GET    /api/v1/themes/{org_id}/logo    the logo image                             public
    DELETE /api/v1/themes/{org_id}/logo    remove the logo                            themes.manage, that organization
    GET    /api/v1/themes/{org_id}/css     the generated stylesheet, with an ETag     public

The reads are public by design: a login page shows an organization's colors and logo before
anyone has signed in. An unknown organization, or one that switched the plugin off, is 404.
Writes take the admin of that organization: an admin of another one gets 404, as for any
other organization's resource in the Hub (whether the organization exists is no secret here,
but the answer stays the one every route gives).
"""

from __future__ import annotations

import uuid

from quart import Blueprint, Response, request, url_for
from quart_schema import DataSource, document_request, document_response, validate_request

from core import (
    Text,
    current_hub,
    current_org_id,
    current_principal,
    document_errors,
    file_info,
    file_response,
    max_body,
    not_found,
    public,
    require,
)
from plugins.themes import service
from plugins.themes.schemas import LogoUpload, ThemeOut, ThemeSaved, ThemeUpdate

bp = Blueprint("themes", __name__)

FORM_OVERHEAD = 64 * 1024  # the multipart framing around the logo


def logo_body_limit(hub) -> int:
    return hub.plugin_settings(service.PLUGIN).max_logo_bytes + FORM_OVERHEAD


def _logo_url(org_id: str, values: dict) -> str | None:
    return url_for("themes.theme_logo", org_id=org_id) if values["logo_file_id"] else None


def _theme_body(org_id: str, values: dict) -> dict:
    return service.body(values, _logo_url(org_id, values), url_for("themes.theme_css", org_id=org_id))


def _own_organization(org_id: str) -> str:
    """The caller's organization, when `org_id` names it; else 404 (another organization's)."""
    own = str(current_org_id())
    try:
        named = str(uuid.UUID(org_id))
    except ValueError:
        named = None
    if named != own:
        raise not_found("Theme")
    return own


def _not_modified(etag: str) -> bool:
    return request.if_none_match.contains_weak(etag.strip('"'))


def _cacheable(response: Response, etag: str) -> Response:
    max_age = current_hub().plugin_settings(service.PLUGIN).cache_max_age_seconds
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@bp.get("/api/v1/themes/<org_id>")
@public
@document_response(ThemeOut)
async def get_theme(org_id: str):
    """The organization's theme: name, colors, fonts, custom CSS, logo URL (seed 002).

    Public: no credentials needed. An organization that never saved a theme gets the defaults
    (`[plugins.themes.defaults]`, `id` null); an unknown organization is 404."""
    hub = current_hub()
    org_id = await service.organization(hub, org_id)
    values = service.effective(hub, org_id, await service.find_theme(org_id))
    return _theme_body(org_id, values)


@bp.put("/api/v1/themes/<org_id>")
@require("themes.manage")
@validate_request(ThemeUpdate)
@document_response(ThemeSaved)
async def update_theme(org_id: str, data: ThemeUpdate):
    """Change the theme: only the fields sent (null puts one back to its default).

    Admins of that organization only (another organization's admin gets 404). Colors must be
    hex, rgb() or hsl() within their ranges (400 naming the field); `custom_css` is rebuilt from
    an allowlist and what it lost is listed in `css_removed`."""
    org_id = _own_organization(org_id)
    theme, removed = await service.save_theme(org_id, data.model_dump(include=data.model_fields_set))
    values = service.effective(current_hub(), org_id, theme)
    return {**_theme_body(org_id, values), "css_removed": removed}


@bp.post("/api/v1/themes/<org_id>/logo")
@require("themes.manage")
@max_body(logo_body_limit)
@document_request(LogoUpload, source=DataSource.FORM_MULTIPART)
@document_errors(413, 415)
@document_response(ThemeOut, 201)
async def upload_logo(org_id: str):
    """Upload the logo (multipart/form-data, part `file`): PNG, JPEG or WebP, decoded and encoded
    again (no metadata kept, shrunk to `logo_max_side`). SVG is refused (415); an image of more
    than `max_logo_pixels` (a decompression bomb) is 400; at most `max_logo_bytes` (413).

    Admins of that organization only (another organization's admin gets 404)."""
    org_id = _own_organization(org_id)
    hub = current_hub()
    # streamed into the file store up to max_logo_bytes (service.upload_logo), never spooled whole
    theme = await service.upload_logo(hub, org_id, created_by=current_principal().user_id)
    return _theme_body(org_id, service.effective(hub, org_id, theme)), 201


@bp.get("/api/v1/themes/<org_id>/logo")
@public
@document_response(Text("image/png"))
async def theme_logo(org_id: str):
    """The logo, as uploaded and re-encoded (PNG, JPEG or WebP, with its type), shown inline;
    `ETag` and `If-None-Match` (304). 404 when the organization has none."""
    hub = current_hub()
    org_id = await service.organization(hub, org_id)
    theme = await service.find_theme(org_id)
    if theme is None or theme.logo_file_id is None:
        raise not_found("Logo")
    info = await file_info(org_id, theme.logo_file_id, purpose=service.LOGO_PURPOSE)
    etag = f'"{info.sha256}"'
    if _not_modified(etag):
        return _cacheable(Response(status=304), etag)
    # the core's download: streamed, its type, nosniff, a sandboxing CSP, inline (an image)
    response = await file_response(org_id, info.id, inline=True, purpose=service.LOGO_PURPOSE)
    return _cacheable(response, etag)


@bp.delete("/api/v1/themes/<org_id>/logo")
@require("themes.manage")
@document_response(None, 204)
async def delete_logo(org_id: str):
    """Remove the logo (its file too). Admins of that organization only; 404 when there is none."""
    org_id = _own_organization(org_id)
    await service.delete_logo(current_hub(), org_id)
    return "", 204


@bp.get("/api/v1/themes/<org_id>/css")
@public
@document_response(Text("text/css"))
async def theme_css(org_id: str):
    """The theme as a stylesheet (`text/css`): a CSS custom property per color and font
    (`--theme-primary-color`, ..., `--theme-logo-url`), then the sanitized custom CSS. Cacheable:
    `ETag`, `If-None-Match` → 304, `Cache-Control: public, max-age=<cache_max_age_seconds>`.
    A theme switched off (`is_active: false`) serves the defaults."""
    hub = current_hub()
    org_id = await service.organization(hub, org_id)
    theme = await service.find_theme(org_id)
    values = service.effective(hub, org_id, theme if theme is None or theme.is_active else None)
    sheet = service.stylesheet(values, _logo_url(org_id, values))
    etag = service.etag_of(sheet)
    if _not_modified(etag):
        return _cacheable(Response(status=304), etag)
    response = Response(sheet, mimetype="text/css")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _cacheable(response, etag)
