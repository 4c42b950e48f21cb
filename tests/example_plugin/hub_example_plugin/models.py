from tortoise import fields

from core import TenantModel


class ExampleNote(TenantModel):
    text = fields.TextField()
    author_id = fields.UUIDField()

    class Meta:
        table = "example_note"
