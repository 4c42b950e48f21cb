"""The mautic plugin's tables. Mautic's ids are integers, so each table's `id` is an
auto-increment integer (shared by every organization; every query still filters by `org_id`,
and another organization's id is a 404 like an unknown one)."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class MauticContact(TenantModel):
    # Mautic's fields (core, social, ...) are in `values`; the ones searched, ordered and matched
    # on are also columns.
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=255, null=True, db_index=True)  # lower case: the de-duplication key
    firstname = fields.CharField(max_length=255, null=True)
    lastname = fields.CharField(max_length=255, null=True)
    company = fields.CharField(max_length=255, null=True)
    values = fields.JSONField(default=dict)
    points = fields.IntField(default=0)
    tags = fields.JSONField(default=list)  # tag names, in the order they were added
    last_active = fields.DatetimeField(null=True)
    created_by = fields.UUIDField(null=True)
    created_by_name = fields.CharField(max_length=255, null=True)
    crm_id = fields.CharField(max_length=36, null=True, db_index=True)  # the CRM contact it mirrors

    class Meta:
        table = "mautic_contacts"


class MauticDoNotContact(TenantModel):
    # reason: Mautic's codes: 0 contactable, 1 unsubscribed, 2 bounced, 3 manual
    id = fields.IntField(primary_key=True)
    contact_id = fields.IntField(db_index=True)
    channel = fields.CharField(max_length=50)
    channel_id = fields.IntField(null=True)
    reason = fields.SmallIntField(default=3)
    comments = fields.TextField(null=True)

    class Meta:
        table = "mautic_dnc"
        unique_together = (("contact_id", "channel"),)


class MauticSegment(TenantModel):
    # filters: Mautic's [{glue, field, object, type, operator, filter/properties.filter}]; a
    # segment without filters is static (members added and removed by hand)
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=191)
    alias = fields.CharField(max_length=191)
    description = fields.TextField(null=True)
    is_published = fields.BooleanField(default=True)
    is_global = fields.BooleanField(default=True)
    filters = fields.JSONField(default=list)
    created_by = fields.UUIDField(null=True)
    created_by_name = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "mautic_segments"


class MauticSegmentMember(TenantModel):
    # manually_added: put in by hand (stays whatever the filters say);
    # manually_removed: taken out by hand (stays out whatever the filters say)
    segment_id = fields.IntField(db_index=True)
    contact_id = fields.IntField(db_index=True)
    manually_added = fields.BooleanField(default=False)
    manually_removed = fields.BooleanField(default=False)

    class Meta:
        table = "mautic_segment_members"
        unique_together = (("segment_id", "contact_id"),)


class MauticEmail(TenantModel):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=191)
    subject = fields.TextField(null=True)
    custom_html = fields.TextField(null=True)
    plain_text = fields.TextField(null=True)
    email_type = fields.CharField(max_length=20, default="template")  # "template" or "list"
    segment_ids = fields.JSONField(default=list)  # Mautic's `lists`
    is_published = fields.BooleanField(default=True)
    from_address = fields.CharField(max_length=255, null=True)
    from_name = fields.CharField(max_length=255, null=True)
    reply_to_address = fields.CharField(max_length=255, null=True)
    sent_count = fields.IntField(default=0)
    read_count = fields.IntField(default=0)
    click_count = fields.IntField(default=0)
    created_by = fields.UUIDField(null=True)
    created_by_name = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "mautic_emails"


class MauticEmailStat(TenantModel):
    # one email sent to one contact: the tracking hash of its pixel, click and unsubscribe links;
    # urls: the links that were in the email (the only targets its click redirect goes to)
    id = fields.IntField(primary_key=True)
    email_id = fields.IntField(db_index=True)
    contact_id = fields.IntField(db_index=True)
    email_address = fields.CharField(max_length=255)
    tracking_hash = fields.CharField(max_length=64, unique=True)
    urls = fields.JSONField(default=list)
    message_id = fields.CharField(max_length=64, null=True)  # the messaging plugin's message
    is_failed = fields.BooleanField(default=False)
    is_read = fields.BooleanField(default=False)
    read_at = fields.DatetimeField(null=True)
    open_count = fields.IntField(default=0)
    click_count = fields.IntField(default=0)
    campaign_id = fields.IntField(null=True)
    event_id = fields.IntField(null=True)

    class Meta:
        table = "mautic_email_stats"


class MauticCampaign(TenantModel):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=191)
    description = fields.TextField(null=True)
    is_published = fields.BooleanField(default=False)
    segment_ids = fields.JSONField(default=list)  # Mautic's `lists`: whose contacts it runs for
    canvas_settings = fields.JSONField(null=True)
    base_url = fields.CharField(max_length=500, null=True)  # where its emails' tracking links point
    created_by = fields.UUIDField(null=True)  # it runs with this user's current rights
    created_by_name = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "mautic_campaigns"


class MauticCampaignEvent(TenantModel):
    # event_type "action" (email.send, lead.changetags, lead.changepoints, campaign.wait) or
    # "decision" (email.open); children run after their parent (a decision's on its
    # decision_path "yes"/"no"); trigger_mode "immediate" or "interval" (trigger_interval of
    # trigger_interval_unit i/h/d/m/y after the parent)
    id = fields.IntField(primary_key=True)
    campaign_id = fields.IntField(db_index=True)
    name = fields.CharField(max_length=191)
    description = fields.TextField(null=True)
    type = fields.CharField(max_length=50)
    event_type = fields.CharField(max_length=20)
    order = fields.IntField(default=0)
    properties = fields.JSONField(default=dict)
    parent_id = fields.IntField(null=True)
    decision_path = fields.CharField(max_length=3, null=True)
    trigger_mode = fields.CharField(max_length=10, default="immediate")
    trigger_interval = fields.IntField(default=0)
    trigger_interval_unit = fields.CharField(max_length=1, default="d")
    temp_id = fields.CharField(max_length=50, null=True)  # the client's "new..." id, for canvasSettings

    class Meta:
        table = "mautic_campaign_events"


class MauticCampaignContact(TenantModel):
    campaign_id = fields.IntField(db_index=True)
    contact_id = fields.IntField(db_index=True)
    manually_added = fields.BooleanField(default=False)
    manually_removed = fields.BooleanField(default=False)

    class Meta:
        table = "mautic_campaign_contacts"
        unique_together = (("campaign_id", "contact_id"),)


class MauticCampaignLog(TenantModel):
    # one event for one contact: "scheduled" (waits for trigger_at), "pending" (a decision
    # waiting for the contact), "running" (claimed by a runner), "executed", "failed", "skipped"
    id = fields.IntField(primary_key=True)
    campaign_id = fields.IntField(db_index=True)
    event_id = fields.IntField(db_index=True)
    contact_id = fields.IntField(db_index=True)
    status = fields.CharField(max_length=10, db_index=True)
    trigger_at = fields.DatetimeField(null=True, db_index=True)
    triggered_at = fields.DatetimeField(null=True)
    result = fields.JSONField(null=True)

    class Meta:
        table = "mautic_campaign_logs"
        unique_together = (("event_id", "contact_id"),)


class MauticOAuthToken(TenantModel):
    # an OAuth2 token issued to a Hub API key (client_credentials): only its hash is kept
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    kind = fields.CharField(max_length=10)  # "access" or "refresh"
    api_key_id = fields.UUIDField(db_index=True)
    expires_at = fields.DatetimeField()
    used = fields.BooleanField(default=False)  # a refresh token is good once

    class Meta:
        table = "mautic_oauth_tokens"
