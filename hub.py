"""The Hub's command line (also `python hub.py ...`).

    hub serve [--host H] [--port P] [--workers N]   run the HTTP server (hypercorn)
    hub worker [--processes N] [--threads T]         run background jobs (needs HUB_REDIS_URL)
    hub migrate                                      apply pending database migrations
    hub makemigrations [PLUGIN ...] [--name NAME]    write migrations for changed models
    hub create-admin --email E [--password P]       create an organization and its admin
    hub plugins                                      list plugins and their state
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys


def _load():
    from core.app import load_hub

    return load_hub()


def _db_config(hub):
    from core.kernel.db import tortoise_config

    return tortoise_config(hub)


def cmd_serve(args) -> None:
    from hypercorn.config import Config
    from hypercorn.run import run

    settings = _load().settings  # fail here, clearly, before any worker starts
    settings.signing_key()  # create the embedded secret once, not racily in each worker
    if settings.auto_migrate:
        asyncio.run(_migrate(quiet=True))
    config = Config()
    config.application_path = "core.asgi:app"
    config.bind = [f"{args.host or settings.server.host}:{args.port or settings.server.port}"]
    config.workers = args.workers or settings.server.workers
    config.accesslog = "-" if args.access_log else None
    config.errorlog = "-"
    os.environ["HUB_AUTO_MIGRATE"] = "false"  # done above, once, for all workers
    from core.ops.observability.metrics import prepare_serve

    prepare_serve(settings, config)  # shared metrics directory and JSON logs for the workers
    print(f"The Hub is serving on http://{config.bind[0]} with {config.workers} worker(s)", flush=True)
    sys.exit(run(config))


def cmd_worker(args) -> None:
    """A master that keeps N worker processes running (each: the Hub app without HTTP,
    T jobs at once) and stops them on SIGTERM/SIGINT: send those to the master only."""
    from core.jobs import worker
    from core.kernel.settings import SettingsError

    if args.child:
        from core.app import create_app

        sys.exit(worker.run_worker_process(create_app(), args.threads))
    settings = _load().settings
    if not settings.redis_url:
        raise SettingsError(
            "hub worker needs redis_url (HUB_REDIS_URL); without Redis, `hub serve` runs jobs in process"
        )
    settings.signing_key()  # create the embedded secret once, not racily in each process
    if settings.auto_migrate:
        asyncio.run(_migrate(quiet=True))
    os.environ["HUB_AUTO_MIGRATE"] = "false"  # done above, once, for all processes
    processes = args.processes or settings.jobs.worker_processes
    threads = args.threads or settings.jobs.worker_threads
    command = [sys.executable, os.path.abspath(__file__), "worker", "--child", "--threads", str(threads)]
    sys.exit(worker.supervise(processes, command, settings.jobs.shutdown_grace_seconds))


async def _migrate(quiet: bool = False) -> None:
    from core.kernel.db import apply_migrations

    hub = _load()

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done" and not quiet:
            print(f"  applied {app_label}.{name}")

    await apply_migrations(_db_config(hub), progress=progress)


def cmd_migrate(args) -> None:
    asyncio.run(_migrate())
    print("Database is up to date.")


def cmd_makemigrations(args) -> None:
    import tortoise.cli.cli as tortoise_cli

    config = _db_config(_load())
    # tortoise's CLI reads its config from a module path; hand it ours directly.
    tortoise_cli._load_config = lambda _ctx: tortoise_cli.TortoiseConfig.resolve_args(config, None)
    context = tortoise_cli.CLIContext(config=None, config_file=None)
    asyncio.run(tortoise_cli.makemigrations(context, tuple(args.apps), False, args.name))


def cmd_create_admin(args) -> None:
    password = args.password or os.environ.get("HUB_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    asyncio.run(_create_admin(args.email, password, args.organization, args.first_name, args.last_name))


async def _create_admin(email, password, organization, first_name, last_name) -> None:
    from pydantic import ValidationError

    from core.builtin.schemas import RegisterRequest
    from core.kernel.db import close_database, open_database
    from core.tenancy import accounts

    try:
        data = RegisterRequest(email=email, password=password, first_name=first_name, last_name=last_name,
                               organization_name=organization)
    except ValidationError as error:
        raise SystemExit(f"error: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}")
    hub = _load()
    await open_database(_db_config(hub), migrate=True)
    try:
        hub.signing_key = hub.settings.signing_key()
        user = await accounts.register(hub, **data.model_dump())
    except Exception as error:  # HubError carries a readable message
        raise SystemExit(f"error: {getattr(error, 'message', error)}")
    finally:
        await close_database()
    print(f"Created admin {user.email} in organization {user.org_id}")


def cmd_plugins(args) -> None:
    plugins = _load().plugins
    print(f"{'name':<20} {'version':<10} {'source':<12} {'mount':<12} hooks")
    for info in sorted(plugins.values(), key=lambda p: p.name):
        print(f"{info.name:<20} {info.version:<10} {info.source:<12} {info.mount or '/':<12} {', '.join(info.hooks)}")


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {value!r})")
    return int(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hub", description="The Hub: one server, many plugins.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="run background jobs from Redis (HUB_REDIS_URL)")
    worker.add_argument("--processes", type=_positive, help="worker processes (default [jobs] worker_processes)")
    worker.add_argument("--threads", type=_positive, help="jobs run at once per process (default [jobs] worker_threads)")
    worker.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    commands.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)

    make = commands.add_parser("makemigrations", help="write migrations for changed models")
    make.add_argument("apps", nargs="*", help="plugin names (app labels); all by default")
    make.add_argument("--name", default=None)
    make.set_defaults(func=cmd_makemigrations)

    admin = commands.add_parser("create-admin", help="create an organization and its first admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="or HUB_ADMIN_PASSWORD, or asked for")
    admin.add_argument("--organization", default=None)
    admin.add_argument("--first-name", default="Admin")
    admin.add_argument("--last-name", default="User")
    admin.set_defaults(func=cmd_create_admin)

    commands.add_parser("plugins", help="list plugins").set_defaults(func=cmd_plugins)

    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("HUB_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from core.kernel.plugins import PluginError
    from core.kernel.settings import SettingsError

    try:
        args.func(args)
    except (SettingsError, PluginError) as error:
        print(f"hub: cannot start: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
