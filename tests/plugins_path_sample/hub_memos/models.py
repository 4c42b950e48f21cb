from tortoise import fields

from core import TenantModel


class Memo(TenantModel):
    text = fields.TextField()

    class Meta:
        table = "hub_memos_memo"
