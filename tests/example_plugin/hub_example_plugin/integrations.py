"""An integration the example plugin offers: a (pretend) Notes Cloud account.

Its credentials are kept encrypted by the Hub and come back as this model
(`core.integration_credentials(org_id, "notes-cloud")`); its test refuses a key that a real
Notes Cloud would never issue, so that connecting with a typo fails before anything is stored.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from core import CamelModel, IntegrationConfig, IntegrationContext


class NotesCloudCredentials(CamelModel):
    api_key: SecretStr = Field(min_length=8)
    account: str = Field(min_length=1, max_length=100)


class NotesCloudConfig(IntegrationConfig):
    folder: str = Field(default="notes", max_length=100)


async def check_notes_cloud(ctx: IntegrationContext) -> None:
    if not ctx.credentials.api_key.get_secret_value().startswith("nc_"):
        raise ValueError("Notes Cloud refused the key: keys start with nc_")
