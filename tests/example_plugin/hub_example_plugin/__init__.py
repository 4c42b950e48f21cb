"""An example third-party plugin: notes, with a setting, an event handler and a function.

Everything the Hub knows about it comes from the hook implementations below.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

mount = "/"
# What hub_on_event saw and which lifecycle hooks ran, kept on the Hub (never in a module global,
# which a second app in the same process would share) for the tests to inspect.
RECEIVED = "example.received_events"
LIFECYCLE = "example.lifecycle"


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


async def hub_on_event(event, hub):
    hub.extensions.setdefault(RECEIVED, []).append(event)


def hub_functions(register):
    from hub_example_plugin.functions import CountNotesArgs, count_notes

    register("count_notes", "Count the organization's notes containing a word", CountNotesArgs,
             "example.notes.read", count_notes)


def hub_jobs(register):
    from hub_example_plugin.jobs import slow_count

    register("example.slow_count", slow_count, max_attempts=3)


def hub_workflow_nodes(register):
    from hub_example_plugin.jobs import WaitConfig, wait_step

    register("example.wait", "Waits, leaving a note each time it starts", WaitConfig, wait_step)


def hub_integrations(register):
    from hub_example_plugin.integrations import NotesCloudConfig, NotesCloudCredentials, check_notes_cloud

    register("notes-cloud", "Notes Cloud", "storage", "notes", NotesCloudCredentials,
             config_model=NotesCloudConfig, test=check_notes_cloud,
             description="Mirror the organization's notes to a Notes Cloud account")


def hub_commands(register):
    async def notes(args, hub):
        from hub_example_plugin.models import ExampleNote

        started = "started" if "startup" in hub.extensions.get(LIFECYCLE, []) else "not started"
        print(f"{hub.plugin_settings('example').greeting}: {await ExampleNote.all().count()} notes ({started})")
        return args.exit_status

    register("notes", notes, "count the notes of every organization",
             [(("--exit-status",), {"type": int, "default": 0, "help": "exit with this status"})])


def hub_health_checks(register):
    async def notes_store() -> str:
        return "healthy"

    register("example_notes", notes_store)


async def hub_startup(hub):
    hub.extensions.setdefault(LIFECYCLE, []).append("startup")


def hub_shutdown(hub):
    hub.extensions.setdefault(LIFECYCLE, []).append("shutdown")
