from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from core import current_principal, require
from hub_memos.models import Memo
from memo_text import tidy  # a helper module beside the plugins, on the path with them

bp = Blueprint("hub_memos", __name__)


class MemoIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)


class MemoOut(BaseModel):
    id: str
    text: str


class MemoList(BaseModel):
    memos: list[MemoOut]


@bp.get("/api/memos")
@require("memos.read")
@validate_response(MemoList)
async def list_memos():
    """The organization's memos, oldest first."""
    memos = await Memo.for_org(current_principal().org_id).order_by("created_at")
    return MemoList(memos=[MemoOut(id=str(m.id), text=m.text) for m in memos])


@bp.post("/api/memos")
@require("memos.write")
@validate_request(MemoIn)
@validate_response(MemoOut, 201)
async def create_memo(data: MemoIn):
    """Write a memo."""
    principal = current_principal()
    memo = await Memo.create(org_id=principal.org_id, text=tidy(data.text))
    return MemoOut(id=str(memo.id), text=memo.text), 201
