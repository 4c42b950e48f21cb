"""The Slack integration an organization connects (`/api/integrations/slack/connect`): either an
incoming-webhook URL (posts go to the webhook's own channel) or a bot token (posts go to the
channel a rule or a caller names, else `defaultChannel`). Both are secrets: kept encrypted by the
core, shown masked. Connecting tests them for real (see `check_slack`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from core import CamelModel, IntegrationConfig, IntegrationContext
from plugins.integrations.slack import client

INTEGRATION = "slack"
PLUGIN = "slack"
# a channel by name (#sales, sales), a user (@ada) or an id (C0123ABC, D0123, G0123)
CHANNEL = r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class SlackCredentials(CamelModel):
    """One of the two: `webhookUrl` (https://hooks.slack.com/services/T.../B.../...) or `botToken`
    (xoxb-..., with the chat:write scope)."""

    webhook_url: SecretStr | None = Field(None, min_length=8, max_length=500)
    bot_token: SecretStr | None = Field(None, min_length=10, max_length=300)

    @model_validator(mode="after")
    def _one_of(self) -> "SlackCredentials":
        if (self.webhook_url is None) == (self.bot_token is None):
            raise ValueError("give either webhookUrl (an incoming webhook) or botToken (a bot), not both")
        if self.webhook_url is not None:
            url = self.webhook_url.get_secret_value()
            if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
                raise ValueError("webhookUrl must be an http(s) URL")
        if self.bot_token is not None and not self.bot_token.get_secret_value().startswith("xox"):
            raise ValueError("botToken must be a Slack token (xoxb-...)")
        return self

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url is not None else "bot"


class SlackConfig(IntegrationConfig):
    default_channel: str | None = Field(None, pattern=CHANNEL, description=(
        "with a bot token: where posts go when neither the rule nor the caller names a channel"))


def webhook_allowlist(hub) -> list[str]:
    return [*hub.settings.webhooks.allowlist, *hub.plugin_settings(PLUGIN).webhook_allowlist]


async def check_slack(ctx: IntegrationContext) -> None:
    """A bot token: Slack's `auth.test` must accept it. A webhook URL: it must pass the SSRF
    guard and exist (an empty message is answered 400 `no_text` by a webhook that exists, and
    403/404/410 by one that does not), so connecting posts nothing to the channel."""
    settings = ctx.hub.plugin_settings(PLUGIN)
    credentials: SlackCredentials = ctx.credentials
    if credentials.bot_token is not None:
        await client.check_token(credentials.bot_token.get_secret_value(), settings.api_base_url,
                                 settings.timeout_seconds)
    else:
        await client.check_webhook(credentials.webhook_url.get_secret_value(), webhook_allowlist(ctx.hub),
                                   settings.timeout_seconds)


INTEGRATIONS = (
    (INTEGRATION, "Slack", "chat", "messaging", SlackCredentials, SlackConfig, check_slack,
     "Post messages to Slack for chosen events, from workflows and as a notification channel "
     "(an incoming-webhook URL or a bot token)"),
)
