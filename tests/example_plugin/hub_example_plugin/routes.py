from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import document_response, validate_request, validate_response

from core import (
    OffsetQuery,
    Pagination,
    SnakeModel,
    current_principal,
    emit,
    plugin_settings,
    public,
    require,
    validate_query,
    validation_error,
)
from hub_example_plugin.models import ExampleNote

bp = Blueprint("example", __name__)


class NoteIn(BaseModel):
    # at most the plugin's max_note_length setting, checked by the route
    text: str = Field(min_length=1, json_schema_extra={"x-bounded-by": "the max_note_length setting (a 400 beyond)"})


class NoteOut(BaseModel):
    id: str
    text: str


class NoteList(BaseModel):
    notes: list[NoteOut]
    total: int
    pagination: Pagination


class Greeting(BaseModel):
    greeting: str


class NoteCreated(SnakeModel):
    id: str
    text: str


@bp.get("/api/example/greeting")
@public
@document_response(Greeting)
async def greeting():
    """The greeting of the plugin's settings."""
    return {"greeting": plugin_settings("example").greeting}


@bp.get("/api/example/notes")
@require("example.notes.read")
@validate_query(OffsetQuery)
@document_response(NoteList)
async def list_notes(query_args: OffsetQuery):
    """The organization's notes, oldest first."""
    page = query_args.page()
    notes, total = await page.fetch(ExampleNote.for_org(current_principal().org_id), "created_at")
    return page.listing("notes", [{"id": str(n.id), "text": n.text} for n in notes], total)


@bp.get("/api/example/notes/<note_id>")
@require("example.notes.read")
@validate_response(NoteOut)
async def get_note(note_id: str):
    """One note."""
    note = await ExampleNote.get_for_org(current_principal().org_id, note_id, "Note")
    return NoteOut(id=str(note.id), text=note.text)


@bp.post("/api/example/notes")
@require("example.notes.write")
@validate_request(NoteIn)
@validate_response(NoteOut, 201)
async def create_note(data: NoteIn):
    """Write a note (at most `max_note_length` characters)."""
    if len(data.text) > plugin_settings("example").max_note_length:
        raise validation_error("text", "longer than max_note_length")
    principal = current_principal()
    note = await ExampleNote.create(org_id=principal.org_id, author_id=principal.user_id, text=data.text)
    await emit(principal.org_id, "example.note_created", {"id": str(note.id), "text": note.text})
    return NoteOut(id=str(note.id), text=note.text), 201
