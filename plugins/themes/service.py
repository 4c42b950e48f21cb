"""The themes plugin's logic, without HTTP: reading an organization's theme (its own values over
the defaults), saving changes, the logo, and the generated stylesheet."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

from tortoise.exceptions import IntegrityError

from core import (
    HubError,
    delete_file,
    emit,
    iso,
    not_found,
    open_file,
    save_file,
    save_upload,
    transaction,
    validation_error,
)
from plugins.themes import css, images
from plugins.themes.models import Theme
from plugins.themes.schemas import COLOR_FIELDS, FONT_FIELDS

PLUGIN = "themes"
LOGO_PURPOSE = "themes.logo"
UPLOAD_PURPOSE = "themes.upload"  # an uploaded logo, until it is decoded (then deleted)


def settings_of(hub: Any):
    return hub.plugin_settings(PLUGIN)


async def organization(hub: Any, org_id: Any) -> str:
    """The organization's id, canonical; 404 for an unknown organization (or a malformed id)
    and for one that switched the plugin off, as for an unknown route."""
    state = await hub.tenants.get(org_id)
    if state.status == "unknown":
        raise not_found("Organization")
    canonical = str(uuid.UUID(state.org_id))
    if not await hub.plugin_enabled_for(canonical, PLUGIN):
        raise not_found("The requested URL")
    return canonical


async def find_theme(org_id: str) -> Theme | None:
    return await Theme.for_org(org_id).first()


def effective(hub: Any, org_id: str, theme: Theme | None) -> dict[str, Any]:
    """The theme as seed 002 shows it: the organization's values, the defaults where it set none.
    `logo_file_id` stays inside (the routes turn it into `logo_url`)."""
    defaults = settings_of(hub).defaults
    values: dict[str, Any] = {
        "id": str(theme.id) if theme else None,
        "organization_id": org_id,
        "name": (theme.name if theme else None) or defaults.name,
        "custom_css": theme.custom_css if theme else "",
        "is_active": theme.is_active if theme else True,
        "logo_file_id": theme.logo_file_id if theme else None,
        "created_at": theme.created_at if theme else None,
        "updated_at": theme.updated_at if theme else None,
    }
    for name in COLOR_FIELDS + FONT_FIELDS:
        values[name] = (getattr(theme, name) if theme else None) or getattr(defaults, name)
    return values


async def _ensure_row(org_id: str) -> None:
    """Make the organization's theme row on first use (outside any transaction: a unique
    violation inside one would abort it on PostgreSQL)."""
    if not await Theme.for_org(org_id).exists():
        try:
            await Theme.create(org_id=org_id)
        except IntegrityError:  # another request made it meanwhile
            pass


async def _locked(org_id: str) -> Theme:
    """The organization's theme row (made by `_ensure_row`), locked until the transaction ends
    (PostgreSQL; SQLite's transactions are serialised anyway)."""
    return await Theme.for_org(org_id).select_for_update().get()


async def _announce(theme: Theme, changed: list[str]) -> None:
    await emit(theme.org_id, "theme.updated",
               {"id": str(theme.id), "organization_id": str(theme.org_id), "changed": changed})


async def save_theme(org_id: str, changes: dict[str, Any]) -> tuple[Theme, list[str]]:
    """Apply `changes` (fields of ThemeUpdate, already validated; None: back to the default) and
    announce what changed. custom_css is stored as `css.sanitize_css` rebuilt it. The theme, and
    what the sanitizer dropped."""
    changes = dict(changes)
    removed: list[str] = []
    if "custom_css" in changes:
        text = changes["custom_css"] or ""
        if text.strip():
            sanitized = await asyncio.to_thread(css.sanitize_css, text)  # up to 50 KB of parsing
            changes["custom_css"], removed = sanitized.css, sanitized.removed
        else:
            changes["custom_css"] = ""
    if "is_active" in changes and changes["is_active"] is None:
        changes["is_active"] = True
    await _ensure_row(org_id)
    async with transaction():
        theme = await _locked(org_id)
        changed = sorted(name for name, value in changes.items() if getattr(theme, name) != value)
        for name in changed:
            setattr(theme, name, changes[name])
        if changed:
            await theme.save()
            await _announce(theme, changed)
    return theme, removed


async def upload_logo(hub: Any, org_id: str, *, created_by: Any = None) -> Theme:
    """The logo sent in the current request's multipart part `file`, saved by `save_logo`. The
    part is streamed into the core's file store (`save_upload`), which stops at `max_logo_bytes`
    (413, nothing stored) and refuses content that is not PNG, JPEG or WebP by its bytes (415),
    so no more than `max_logo_bytes` is ever read into memory for Pillow; the raw upload is
    deleted once read."""
    settings = settings_of(hub)
    upload = await save_upload(field="file", purpose=UPLOAD_PURPOSE, owner_id=org_id, shared=False,
                               allowed_types=images.CONTENT_TYPES, max_bytes=settings.max_logo_bytes)
    try:
        data = b"".join([chunk async for chunk in await open_file(org_id, upload.id, purpose=UPLOAD_PURPOSE, hub=hub)])
    finally:
        await delete_file(org_id, upload.id, purpose=UPLOAD_PURPOSE, hub=hub)
    return await save_logo(hub, org_id, data, created_by=created_by)


async def save_logo(hub: Any, org_id: str, data: bytes, *, created_by: Any = None) -> Theme:
    """Store `data` (an uploaded image) as the organization's logo, re-encoded (see images.py),
    in place of the previous one. 413 past `max_logo_bytes`, 415 for anything but PNG, JPEG or
    WebP (SVG included), 400 for an unreadable image or one of more than `max_logo_pixels`; a
    refused upload stores nothing."""
    settings = settings_of(hub)
    if len(data) > settings.max_logo_bytes:
        raise HubError("PAYLOAD_TOO_LARGE", f"A logo may have at most {settings.max_logo_bytes} bytes",
                       {"field": "file", "max_bytes": settings.max_logo_bytes})
    if not data:
        raise validation_error("file", "is empty")
    try:
        image = images.open_logo(data, settings.max_logo_pixels)
        logo = await asyncio.to_thread(images.reencode, image, settings.logo_max_side)
    except images.LogoRefused as refused:
        if refused.status == 415:
            raise HubError("UNSUPPORTED_MEDIA_TYPE", refused.reason,
                           {"field": "file", "allowed": sorted(images.CONTENT_TYPES)}) from None
        raise HubError("VALIDATION_ERROR", "Invalid input data",
                       {"field": "file", "reason": refused.reason, **refused.details}) from None
    info = await save_file(org_id, logo.data, name=f"logo.{logo.extension}", purpose=LOGO_PURPOSE, owner_id=org_id,
                           shared=False, content_type=logo.content_type, allowed_types=images.CONTENT_TYPES,
                           created_by=created_by, hub=hub)
    try:
        await _ensure_row(org_id)
        async with transaction():
            theme = await _locked(org_id)
            previous = theme.logo_file_id
            theme.logo_file_id = info.id
            await theme.save()
            await _announce(theme, ["logo"])
    except BaseException:
        await delete_file(org_id, info.id, purpose=LOGO_PURPOSE, hub=hub)
        raise
    if previous is not None:
        await _forget_logo(hub, org_id, previous)
    return theme


async def delete_logo(hub: Any, org_id: str) -> None:
    """Remove the organization's logo; 404 when it has none."""
    async with transaction():
        theme = await Theme.for_org(org_id).select_for_update().first()
        if theme is None or theme.logo_file_id is None:
            raise not_found("Logo")
        previous, theme.logo_file_id = theme.logo_file_id, None
        await theme.save()
        await _announce(theme, ["logo"])
    await _forget_logo(hub, org_id, previous)


async def _forget_logo(hub: Any, org_id: str, file_id: Any) -> None:
    try:
        await delete_file(org_id, file_id, purpose=LOGO_PURPOSE, hub=hub)
    except HubError:  # deleted meanwhile (two uploads replacing the same logo)
        pass


def stylesheet(values: dict[str, Any], logo_url: str | None) -> str:
    """The CSS served at GET .../css: a custom property per color and font (`--theme-primary-color`,
    ...; `--theme-logo-url` when there is a logo), then the sanitized custom CSS. Every value in
    it was normalised or rebuilt by css.py when it was saved."""
    lines = [f"  --theme-{name.replace('_', '-')}: {values[name]};" for name in COLOR_FIELDS + FONT_FIELDS]
    if logo_url and css.SAME_ORIGIN_PATH.match(logo_url):
        lines.append(f'  --theme-logo-url: url("{logo_url}");')
    sheet = ":root {\n" + "\n".join(lines) + "\n}\n"
    if values["custom_css"]:
        sheet += "\n" + values["custom_css"]
    return sheet


def etag_of(content: bytes | str) -> str:
    data = content.encode() if isinstance(content, str) else content
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def body(values: dict[str, Any], logo_url: str | None, css_url: str) -> dict[str, Any]:
    """The theme's JSON (ThemeOut)."""
    out = {key: value for key, value in values.items() if key != "logo_file_id"}
    out["logo_url"] = logo_url
    out["css_url"] = css_url
    out["created_at"] = iso(values["created_at"]) if values["created_at"] else None
    out["updated_at"] = iso(values["updated_at"]) if values["updated_at"] else None
    return out
