"""CRM tables. Every row belongs to one organization (TenantModel.org_id); all queries go
through `Model.for_org(org_id)`. Tables are prefixed `crm_`."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel

LEAD_STATUSES = ("new", "contacted", "qualified", "converted", "lost")
MESSAGE_SENDERS = ("lead", "agent", "user")


class Company(TenantModel):
    name = fields.CharField(max_length=200)
    domain = fields.CharField(max_length=253, null=True)
    industry = fields.CharField(max_length=100, null=True)
    size = fields.CharField(max_length=32, null=True)
    notes = fields.TextField(null=True)

    class Meta:
        table = "crm_company"
        indexes = (("org_id", "name"),)


class Lead(TenantModel):
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=32, null=True)
    company = fields.CharField(max_length=200, null=True)
    company_id = fields.UUIDField(null=True)
    status = fields.CharField(max_length=16, default="new")
    source = fields.CharField(max_length=32, default="other")
    value = fields.FloatField(default=0)
    notes = fields.TextField(null=True)
    owner_id = fields.UUIDField(null=True)
    converted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "crm_lead"
        # + (org_id, created_at, id) and (org_id, status, created_at, id): migrations/0003_list_indexes.py
        indexes = (("org_id", "status", "created_at"), ("org_id", "source"), ("org_id", "created_at"))


class Contact(TenantModel):
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=32, null=True)
    company = fields.CharField(max_length=200, null=True)
    company_id = fields.UUIDField(null=True)
    position = fields.CharField(max_length=100, null=True)
    tags = fields.JSONField(default=list)
    status = fields.CharField(max_length=16, default="active")
    notes = fields.TextField(null=True)
    last_contact_date = fields.DatetimeField(null=True)
    lead_id = fields.UUIDField(null=True)
    # lower(name email company), kept by the service: one column to search, indexable
    # with trigrams on PostgreSQL (see migrations/0002_contact_search.py).
    search_text = fields.CharField(max_length=700, default="")

    class Meta:
        table = "crm_contact"
        # + (org_id, created_at, id), (org_id, email), (org_id, lead_id): migrations/0003_list_indexes.py
        indexes = (("org_id", "name"), ("org_id", "company"), ("org_id", "created_at"))


class ContactTag(TenantModel):
    # One row per contact and tag, so `?tags=a,b` is an indexed join, not a JSON scan.
    contact_id = fields.UUIDField()
    tag = fields.CharField(max_length=50)

    class Meta:
        table = "crm_contact_tag"
        unique_together = (("contact_id", "tag"),)
        indexes = (("org_id", "tag"),)


class Conversation(TenantModel):
    # One per lead, kept up to date as messages arrive and are read.
    lead_id = fields.UUIDField(unique=True)
    status = fields.CharField(max_length=16, default="active")
    last_message_id = fields.UUIDField(null=True)
    last_message_at = fields.DatetimeField(null=True)
    unread_count = fields.IntField(default=0)

    class Meta:
        table = "crm_conversation"
        indexes = (("org_id", "last_message_at"),)


class Message(TenantModel):
    lead_id = fields.UUIDField()
    content = fields.TextField()
    sender = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16, default="delivered")  # sent | delivered | read
    read_at = fields.DatetimeField(null=True)
    author_id = fields.UUIDField(null=True)

    class Meta:
        table = "crm_message"
        indexes = (("org_id", "lead_id", "created_at"),)


class AchievementProgress(TenantModel):
    user_id = fields.UUIDField()
    code = fields.CharField(max_length=64)
    current = fields.IntField(default=0)
    unlocked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "crm_achievement_progress"
        unique_together = (("org_id", "user_id", "code"),)


class ContactLink(TenantModel):
    # A contact as another system knows it: (source, external_id) -> contact, written by the
    # `upsert_contact` hub function so a re-sync finds the same contact (migrations/0005).
    contact_id = fields.UUIDField()
    source = fields.CharField(max_length=64)
    external_id = fields.CharField(max_length=200)

    class Meta:
        table = "crm_contact_link"
        unique_together = (("org_id", "source", "external_id"),)
        indexes = (("org_id", "contact_id"),)
