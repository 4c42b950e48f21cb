"""An example third-party plugin: notes, with a setting, an event handler and a function.

Everything the Hub knows about it comes from the hook implementations below.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

mount = "/"
RECEIVED_EVENTS: list = []  # what hub_on_event saw, for the tests to inspect
LIFECYCLE: list[str] = []


class ExampleSettings(BaseModel):
    greeting: str = "hello"
    max_note_length: int = Field(200, ge=1)


def hub_config():
    return ExampleSettings


def hub_models():
    return ["hub_example_plugin.models"]


def hub_routes(app):
    from hub_example_plugin.routes import bp

    return bp


def hub_permissions(register):
    register("example.notes.read", "Read notes", "read")
    register("example.notes.write", "Write notes", "write")


def hub_event_types(register):
    from hub_example_plugin.routes import NoteCreated

    register("example.note_created", NoteCreated, "A note was written", permission="example.notes.read")


async def hub_on_event(event):
    RECEIVED_EVENTS.append(event)


def hub_functions(register):
    from hub_example_plugin.functions import CountNotesArgs, count_notes

    register("count_notes", "Count the organization's notes containing a word", CountNotesArgs,
             "example.notes.read", count_notes)


def hub_jobs(register):
    from hub_example_plugin.jobs import slow_count

    register("example.slow_count", slow_count, max_attempts=3)


def hub_health_checks(register):
    async def notes_store() -> str:
        return "healthy"

    register("example_notes", notes_store)


async def hub_startup(app):
    LIFECYCLE.append("startup")


def hub_shutdown():
    LIFECYCLE.append("shutdown")
