from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from core import SnakeModel, current_principal, emit, paginate, plugin_settings, public, require, validation_error
from hub_example_plugin.models import ExampleNote

bp = Blueprint("example", __name__)


class NoteIn(BaseModel):
    text: str = Field(min_length=1)


class NoteOut(BaseModel):
    id: str
    text: str


class NoteCreated(SnakeModel):
    id: str
    text: str


@bp.get("/api/example/greeting")
@public
async def greeting():
    return {"greeting": plugin_settings("example").greeting}


@bp.get("/api/example/notes")
@require("example.notes.read")
async def list_notes():
    page = paginate("offset")
    query = ExampleNote.for_org(current_principal().org_id)
    total = await query.count()
    notes = await query.order_by("created_at").offset(page.offset).limit(page.limit)
    return page.respond({"notes": [{"id": str(n.id), "text": n.text} for n in notes], "total": total}, total)


@bp.get("/api/example/notes/<note_id>")
@require("example.notes.read")
@validate_response(NoteOut)
async def get_note(note_id: str):
    note = await ExampleNote.get_for_org(current_principal().org_id, note_id, "Note")
    return NoteOut(id=str(note.id), text=note.text)


@bp.post("/api/example/notes")
@require("example.notes.write")
@validate_request(NoteIn)
@validate_response(NoteOut, 201)
async def create_note(data: NoteIn):
    if len(data.text) > plugin_settings("example").max_note_length:
        raise validation_error("text", "longer than max_note_length")
    principal = current_principal()
    note = await ExampleNote.create(org_id=principal.org_id, author_id=principal.user_id, text=data.text)
    await emit(principal.org_id, "example.note_created", {"id": str(note.id), "text": note.text})
    return NoteOut(id=str(note.id), text=note.text), 201
