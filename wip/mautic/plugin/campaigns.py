"""Campaigns that run, on the core's jobs: a published campaign takes in the contacts of its
segments (job `mautic.campaign.run`, enqueued when it is saved and when its segments gain
contacts) and runs its events for each of them; events that wait (triggerMode "interval")
are logged "scheduled" and picked up by the periodic tick (`campaign_tick_seconds`), which
claims each log with a conditional update so that one process runs it. Every event run for a
contact is a row of `mautic_campaign_logs`: the contact's progress.

Events (Mautic's types): actions `email.send` (properties.email), `lead.changetags`
(properties.add_tags / remove_tags), `lead.changepoints` (properties.points), `campaign.wait`
(does nothing itself: its triggerInterval delays what follows); decision `email.open` (the
contact opened the email its parent sent: children on decisionPath "yes" run then; children on
"no" run after their own interval if the email was not opened by then)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from core import Principal, enqueue, transaction, utcnow
from plugins.integrations.mautic import service
from plugins.integrations.mautic.models import (
    MauticCampaign,
    MauticCampaignContact,
    MauticCampaignEvent,
    MauticCampaignLog,
    MauticContact,
    MauticEmail,
    MauticEmailStat,
)
from plugins.integrations.mautic.service import mautic_error

log = logging.getLogger(__name__)

RUN_JOB = "mautic.campaign.run"
ACTIONS = ("email.send", "lead.changetags", "lead.changepoints", "campaign.wait")
DECISIONS = ("email.open",)
UNITS = {"i": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "m": timedelta(days=30),
         "y": timedelta(days=365)}
MAX_EVENTS = 100


# -- saving ----------------------------------------------------------------------------------------


def _listed(value: Any) -> list:
    if value in (None, ""):
        return []
    if isinstance(value, dict):  # a form-encoded list: {"0": ..., "1": ...}
        return [value[key] for key in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return None if value in (None, "", 0, "0") else str(value)


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip()[:255] for item in items if str(item).strip()]


def check_events(raw: Any) -> list[dict]:
    events = _listed(raw)
    if len(events) > MAX_EVENTS:
        raise mautic_error(400, f"events: at most {MAX_EVENTS} events.", {"events": [f"at most {MAX_EVENTS}"]})
    checked = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise mautic_error(400, f"events: event {index} is not valid.", {"events": [f"event {index} is not valid"]})
        kind = str(event.get("type") or "")
        event_type = str(event.get("eventType") or ("decision" if kind in DECISIONS else "action"))
        if kind not in ACTIONS + DECISIONS or (event_type == "decision") != (kind in DECISIONS):
            raise mautic_error(400, f"events: event type {kind or '(none)'} is not supported "
                                    f"(actions: {', '.join(ACTIONS)}; decisions: {', '.join(DECISIONS)}).",
                               {"events": [f"event {index}: type {kind or '(none)'} is not supported"]})
        mode = str(event.get("triggerMode") or "immediate")
        unit = str(event.get("triggerIntervalUnit") or "d")
        try:
            interval = int(event.get("triggerInterval") or 0)
        except (TypeError, ValueError):
            interval = -1
        if mode not in ("immediate", "interval") or unit not in UNITS or not 0 <= interval <= 10_000:
            raise mautic_error(400, f"events: event {index} has a bad trigger.",
                               {"events": [(f"event {index}: triggerMode immediate|interval, triggerInterval >= 0, "
                                            "triggerIntervalUnit i|h|d|m|y")]})
        if len(str(event.get("name") or "")) > 191:
            raise mautic_error(400, f"events: the name of event {index} is too long.",
                               {"events": [f"event {index}: name: This value is too long."]})
        properties = event.get("properties") if isinstance(event.get("properties"), dict) else {}
        path = event.get("decisionPath")
        checked.append({
            "ref": _ref(event.get("id")) or f"new{index}", "parent": _ref(event.get("parent")),
            "name": str(event.get("name") or kind)[:191], "description": event.get("description"),
            "type": kind, "event_type": event_type, "order": int(event.get("order") or index + 1),
            "properties": properties, "decision_path": path if path in ("yes", "no") else None,
            "trigger_mode": mode, "trigger_interval": interval, "trigger_interval_unit": unit,
        })
    refs = {event["ref"] for event in checked}
    for event in checked:
        if event["parent"] is not None and event["parent"] not in refs:
            raise mautic_error(400, f"events: the parent {event['parent']} of {event['ref']} is not among the events.",
                               {"events": [f"unknown parent {event['parent']}"]})
    return checked


async def _check_event_targets(org_id: Any, events: list[dict]) -> None:
    for event in events:
        if event["type"] == "email.send":
            email_id = event["properties"].get("email")
            if isinstance(email_id, list):
                email_id = email_id[0] if email_id else None
            await service.get_row(MauticEmail, org_id, email_id)  # another organization's email: 404
            event["properties"]["email"] = int(str(email_id))
        elif event["type"] == "lead.changepoints":
            try:
                event["properties"]["points"] = int(float(str(event["properties"].get("points", 0))))
            except ValueError:
                raise mautic_error(400, "events: points must be a number.", {"events": ["points must be a number"]}) \
                    from None
        elif event["type"] == "lead.changetags":
            event["properties"]["add_tags"] = _names(event["properties"].get("add_tags"))
            event["properties"]["remove_tags"] = _names(event["properties"].get("remove_tags"))


async def save_campaign(org_id: Any, params: dict, principal: Principal, base: str, *,
                        campaign: MauticCampaign | None = None, replace: bool = False) -> tuple[MauticCampaign, bool]:
    created = campaign is None
    name = params.get("name")
    if (created or replace or "name" in params) and not (isinstance(name, str) and name.strip()):
        raise mautic_error(400, "name: A name is required.", {"name": ["A name is required."]})
    if isinstance(name, str) and len(name.strip()) > 191:
        raise mautic_error(400, "name: This value is too long.", {"name": ["This value is too long."]})
    segment_ids = await service.check_segment_ids(org_id, params.get("lists")) \
        if "lists" in params or created or replace else None
    events = check_events(params.get("events")) if "events" in params or created or replace else None
    if events is not None:
        await _check_event_targets(org_id, events)
    async with transaction():
        if created:
            campaign = MauticCampaign(org_id=org_id, created_by=principal.user_id, created_by_name=principal.email)
        if name is not None or replace:
            campaign.name = str(name).strip()[:191]
        if "description" in params or replace:
            campaign.description = params.get("description")
        if "isPublished" in params or replace:
            campaign.is_published = service.as_bool(params.get("isPublished", False))
        if segment_ids is not None:
            campaign.segment_ids = segment_ids
        if "canvasSettings" in params or replace:
            settings = params.get("canvasSettings")
            campaign.canvas_settings = settings if isinstance(settings, dict) else None
        campaign.base_url = base
        await campaign.save()
        if events is not None:
            await _replace_events(org_id, campaign, events)
    if campaign.is_published:
        await enqueue(org_id, RUN_JOB, {"campaign_id": campaign.id})
    return campaign, created


async def _replace_events(org_id: Any, campaign: MauticCampaign, events: list[dict]) -> None:
    existing = {str(row.id): row for row in await MauticCampaignEvent.for_org(org_id).filter(campaign_id=campaign.id)}
    ids: dict[str, int] = {}
    kept = set()
    for event in events:
        row = existing.get(event["ref"])
        fields = {key: event[key] for key in ("name", "description", "type", "event_type", "order", "properties",
                                               "decision_path", "trigger_mode", "trigger_interval",
                                               "trigger_interval_unit")}
        if row is None:
            row = await MauticCampaignEvent.create(org_id=org_id, campaign_id=campaign.id, temp_id=event["ref"][:50],
                                                   **fields)
        else:
            row.update_from_dict(fields)
            await row.save()
            kept.add(row.id)
        ids[event["ref"]] = row.id
    for event in events:
        parent = ids.get(event["parent"]) if event["parent"] else None
        await MauticCampaignEvent.filter(id=ids[event["ref"]]).update(parent_id=parent)
    gone = [row.id for key, row in existing.items() if row.id not in kept]
    if gone:
        await MauticCampaignEvent.filter(id__in=gone).delete()


async def delete_campaign(org_id: Any, campaign: MauticCampaign) -> None:
    async with transaction():
        await MauticCampaignLog.for_org(org_id).filter(campaign_id=campaign.id).delete()
        await MauticCampaignContact.for_org(org_id).filter(campaign_id=campaign.id).delete()
        await MauticCampaignEvent.for_org(org_id).filter(campaign_id=campaign.id).delete()
        await campaign.delete()


async def events_of(org_id: Any, campaign_ids: list[int]) -> dict[int, list[MauticCampaignEvent]]:
    result: dict[int, list[MauticCampaignEvent]] = {i: [] for i in campaign_ids}
    if campaign_ids:
        for row in await MauticCampaignEvent.for_org(org_id).filter(campaign_id__in=campaign_ids).order_by("order", "id"):
            result[row.campaign_id].append(row)
    return result


# -- running ---------------------------------------------------------------------------------------


async def start_campaigns_of_segments(org_id: Any, segment_ids: list[int]) -> None:
    """Contacts joined these segments: the published campaigns built on them take them in."""
    for campaign in await MauticCampaign.for_org(org_id).filter(is_published=True):
        if set(campaign.segment_ids) & set(segment_ids):
            await enqueue(org_id, RUN_JOB, {"campaign_id": campaign.id})


async def run_job(ctx: Any, payload: dict) -> dict:
    return await run_campaign(ctx.org_id, int(payload["campaign_id"]))


async def run_campaign(org_id: Any, campaign_id: int) -> dict:
    """Take in the contacts of the campaign's segments and start its first events for each
    contact that has not started them; then run what is due."""
    campaign = await MauticCampaign.for_org(org_id).filter(id=campaign_id).first()
    if campaign is None or not campaign.is_published:
        return {"contacts": 0, "started": 0}
    members = await service.segment_contact_ids(org_id, campaign.segment_ids)
    rows = {row.contact_id: row for row in await MauticCampaignContact.for_org(org_id).filter(campaign_id=campaign.id)}
    for contact_id in members:
        if contact_id not in rows:
            try:
                rows[contact_id] = await MauticCampaignContact.create(org_id=org_id, campaign_id=campaign.id,
                                                                      contact_id=contact_id)
            except IntegrityError:  # another run took it in meanwhile
                pass
    contact_ids = [i for i, row in rows.items() if not row.manually_removed]
    events = (await events_of(org_id, [campaign.id]))[campaign.id]
    roots = [event for event in events if event.parent_id is None]
    started = 0
    principal = await service.campaign_owner(org_id, campaign)
    for contact in await MauticContact.for_org(org_id).filter(id__in=contact_ids).order_by("id"):
        for event in roots:
            started += await start_event(campaign, events, event, contact, principal)
    await run_due(org_id, campaign_id=campaign.id)
    return {"contacts": len(contact_ids), "started": started}


async def start_event(campaign: MauticCampaign, events: list[MauticCampaignEvent], event: MauticCampaignEvent,
                      contact: MauticContact, principal: Principal | None, path: str | None = None) -> int:
    """Reach `event` for `contact` (once: the log's unique key says it was reached)."""
    now = utcnow()
    delay = UNITS[event.trigger_interval_unit] * event.trigger_interval \
        if event.trigger_mode == "interval" and event.trigger_interval else None
    if path == "no":  # waits for the decision's answer: runs at its time unless the decision is met first
        delay = delay or timedelta(0)
    status = "pending" if event.event_type == "decision" else "scheduled" if delay is not None else "running"
    try:
        entry = await MauticCampaignLog.create(
            org_id=campaign.org_id, campaign_id=campaign.id, event_id=event.id, contact_id=contact.id, status=status,
            trigger_at=now + delay if delay is not None else None, result={"path": path} if path else None)
    except IntegrityError:
        return 0
    if event.event_type == "decision":
        for child in _children(events, event, "no"):  # run after their wait unless the decision is met first
            await start_event(campaign, events, child, contact, principal, path="no")
        return 1
    if status == "running":
        await _execute(campaign, events, event, contact, entry, principal)
    return 1


def _children(events: list[MauticCampaignEvent], parent: MauticCampaignEvent, path: str | None = None) -> list:
    return [event for event in events if event.parent_id == parent.id
            and (path is None or event.decision_path == path or (path == "yes" and event.decision_path is None))]


async def _execute(campaign: MauticCampaign, events: list[MauticCampaignEvent], event: MauticCampaignEvent,
                   contact: MauticContact, entry: MauticCampaignLog, principal: Principal | None) -> None:
    org_id = campaign.org_id
    result: dict[str, Any] = dict(entry.result or {})
    ok = True
    try:
        if event.type == "email.send":
            email = await MauticEmail.for_org(org_id).filter(id=event.properties.get("email")).first()
            if email is None:
                ok, result["error"] = False, "The email was deleted."
            elif principal is None:
                ok, result["error"] = False, "The campaign's owner can no longer act in this organization."
            else:
                ok, why = await service.send_to_contact(org_id, email, contact, principal, campaign.base_url or "",
                                                        campaign_id=campaign.id, event_id=event.id)
                if not ok:
                    result["error"] = why
        elif event.type == "lead.changetags":
            if service.apply_tags(contact, event.properties.get("add_tags") or [],
                                  event.properties.get("remove_tags") or []):
                await contact.save(update_fields=["tags", "updated_at"])
                await service.contact_changed(org_id, contact)
            result["tags"] = contact.tags
        elif event.type == "lead.changepoints":
            await service.adjust_points(org_id, contact, "plus", event.properties.get("points", 0))
            result["points"] = contact.points
    except Exception as error:  # a failure of one contact's event: logged, the others go on
        log.exception("campaign %s event %s failed for contact %s", campaign.id, event.id, contact.id)
        ok, result["error"] = False, str(error)[:500]
    entry.status, entry.triggered_at, entry.result = ("executed" if ok else "failed"), utcnow(), result
    await entry.save()
    if ok:
        for child in _children(events, event):
            await start_event(campaign, events, child, contact, principal)


async def run_due(org_id: Any = None, campaign_id: int | None = None) -> int:
    """Run the scheduled events whose time has come (each claimed by one runner)."""
    query = MauticCampaignLog.filter(status="scheduled", trigger_at__lte=utcnow())
    if org_id is not None:
        query = query.filter(org_id=org_id)
    if campaign_id is not None:
        query = query.filter(campaign_id=campaign_id)
    done = 0
    cache: dict[int, tuple[MauticCampaign, list, Principal | None]] = {}
    for entry in await query.order_by("trigger_at", "id").limit(500):
        if not await MauticCampaignLog.filter(id=entry.id, status="scheduled").update(status="running"):
            continue  # another process claimed it
        if entry.campaign_id not in cache:
            campaign = await MauticCampaign.filter(id=entry.campaign_id, org_id=entry.org_id).first()
            if campaign is None:
                continue
            events = (await events_of(entry.org_id, [campaign.id]))[campaign.id]
            cache[entry.campaign_id] = (campaign, events, await service.campaign_owner(entry.org_id, campaign))
        campaign, events, principal = cache[entry.campaign_id]
        event = next((e for e in events if e.id == entry.event_id), None)
        contact = await MauticContact.filter(id=entry.contact_id, org_id=entry.org_id).first()
        if event is None or contact is None or not campaign.is_published:
            await MauticCampaignLog.filter(id=entry.id).update(status="skipped", triggered_at=utcnow())
            continue
        if (entry.result or {}).get("path") == "no":
            decision = await MauticCampaignLog.filter(event_id=event.parent_id, contact_id=contact.id).first()
            if decision is not None and decision.status == "executed":  # met meanwhile: the "no" path is not taken
                await MauticCampaignLog.filter(id=entry.id).update(status="skipped", triggered_at=utcnow())
                continue
            if decision is not None:
                await MauticCampaignLog.filter(id=decision.id, status="pending").update(
                    status="executed", triggered_at=utcnow(), result={"path": "no"})
        await _execute(campaign, events, event, contact, entry, principal)
        done += 1
    return done


async def tick(hub: Any) -> int:
    return await run_due()


async def email_opened(stat: MauticEmailStat) -> None:
    """The contact opened an email a campaign sent: its "opened email" decisions are met."""
    if stat.campaign_id is None or stat.event_id is None:
        return
    campaign = await MauticCampaign.filter(id=stat.campaign_id, org_id=stat.org_id).first()
    if campaign is None or not campaign.is_published:
        return
    events = (await events_of(stat.org_id, [campaign.id]))[campaign.id]
    contact = await MauticContact.filter(id=stat.contact_id, org_id=stat.org_id).first()
    if contact is None:
        return
    principal = await service.campaign_owner(stat.org_id, campaign)
    for decision in [e for e in events if e.parent_id == stat.event_id and e.type == "email.open"]:
        claimed = await MauticCampaignLog.filter(event_id=decision.id, contact_id=contact.id, status="pending") \
            .update(status="executed", triggered_at=utcnow(), result={"path": "yes"})
        if not claimed:
            continue
        no_path = [child.id for child in _children(events, decision, "no")]
        if no_path:
            await MauticCampaignLog.filter(event_id__in=no_path, contact_id=contact.id, status="scheduled") \
                .update(status="skipped", triggered_at=utcnow())
        for child in _children(events, decision, "yes"):
            await start_event(campaign, events, child, contact, principal)


async def add_contact(org_id: Any, campaign: MauticCampaign, contact: MauticContact) -> None:
    row = await MauticCampaignContact.for_org(org_id).filter(campaign_id=campaign.id, contact_id=contact.id).first()
    if row is None:
        await MauticCampaignContact.create(org_id=org_id, campaign_id=campaign.id, contact_id=contact.id,
                                           manually_added=True)
    else:
        row.manually_added, row.manually_removed = True, False
        await row.save()
    if campaign.is_published:
        await enqueue(org_id, RUN_JOB, {"campaign_id": campaign.id})


async def remove_contact(org_id: Any, campaign: MauticCampaign, contact: MauticContact) -> None:
    row = await MauticCampaignContact.for_org(org_id).filter(campaign_id=campaign.id, contact_id=contact.id).first()
    if row is None:
        await MauticCampaignContact.create(org_id=org_id, campaign_id=campaign.id, contact_id=contact.id,
                                           manually_removed=True)
    else:
        row.manually_added, row.manually_removed = False, True
        await row.save()
    await MauticCampaignLog.for_org(org_id).filter(campaign_id=campaign.id, contact_id=contact.id,
                                                   status__in=("scheduled", "pending")).update(status="skipped")
