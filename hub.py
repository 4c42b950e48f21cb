"""The Hub's command line (also `python hub.py ...`).

    hub serve [--host H] [--port P] [--workers N]   run the HTTP server (hypercorn, or
              [--server uvicorn]                     uvicorn with uvloop and httptools)
    hub worker [--processes N] [--threads T]         run background jobs (needs HUB_REDIS_URL)
    hub migrate                                      apply pending database migrations
    hub makemigrations [PLUGIN ...] [--name NAME]    write migrations for changed models
    hub create-admin --email E [--password P]       create an organization and its admin
                                                     (password: --password, HUB_ADMIN_PASSWORD,
                                                     or asked for on a terminal)
    hub plugins                                      list plugins and their state
    hub new-plugin NAME [--dir DIR]                  write a new plugin package (default ./hub-NAME)
    hub <plugin> <command> ...                       a plugin's own command (hook hub_commands),
                                                     e.g. `hub recommender train --org ID`

Exit status: 0 done, 1 failed, 2 a bad command line or bad settings; a failure is one line
on stderr, `hub: ...`, without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import os
import sys
from pathlib import Path

BUILTIN_COMMANDS = ("serve", "worker", "migrate", "makemigrations", "create-admin", "rotate-credentials", "plugins",
                    "new-plugin")


class CommandFailed(Exception):
    """A command cannot go on; main() prints `hub: <message>` and exits with `status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _load():
    """The Hub with its plugins loaded (no database), and logging set up from its settings."""
    from core.app import load_hub
    from core.ops.observability.logs import configure_logging

    hub = load_hub()
    configure_logging(hub.settings)
    return hub


def _db_config(hub):
    from core.kernel.db import tortoise_config

    return tortoise_config(hub)


# -- hub serve ------------------------------------------------------------------------------------


def cmd_serve(args) -> None:
    from core.ops import startup
    from core.ops.observability.metrics import prepare_serve

    hub = _load()  # fail here, clearly, before any worker starts
    settings = hub.settings
    host, port = args.host or settings.server.host, args.port or settings.server.port
    server = args.server or settings.server.asgi_server
    run = _ASGI_SERVERS[server]
    if server != "hypercorn" and not _installed(server):
        raise CommandFailed(f"{server} is not installed: pip install 'the-hub[{server}]' (or serve with hypercorn)")
    workers = args.workers or settings.server.workers_for(settings.redis_url)
    _check_bind(host, port)
    key_generated = settings.secret_key is None and not (Path(settings.data_dir) / "secret_key").exists()
    settings.signing_key()  # create the embedded secret once, not racily in each worker
    migrations = asyncio.run(_migrate(hub, quiet=True)) if settings.auto_migrate else None
    url = _url_to_open(host, port)
    os.environ["HUB_AUTO_MIGRATE"] = "false"  # done above, once, for all workers
    os.environ[startup.FACTS_VARIABLE] = startup.facts_for_workers(url, workers, migrations, key_generated, server)
    log_config = prepare_serve(settings)  # shared metrics directory and the workers' logging
    print(f"The Hub is serving on {url} with {workers} worker(s) ({server})", flush=True)
    try:
        status = run(settings, host, port, workers, args.access_log, log_config)
    except OSError as error:  # the port was taken between the check and the server's own bind
        raise CommandFailed(f"cannot start: {_bind_problem(error, host, port)}") from None
    sys.exit(status)


def _serve_with_hypercorn(settings, host: str, port: int, workers: int, access_log: bool, log_config: dict) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = "core.asgi:app"
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    # A single worker is this process itself (hypercorn's workers = 0): a spawned one would
    # import the whole Hub a second time, as long again as everything else start-up does.
    config.workers = workers if workers > 1 else 0
    config.backlog = settings.server.backlog
    config.accesslog = "-" if access_log else None
    config.errorlog = "-"
    config.logconfig_dict = log_config
    return run(config)


def _serve_with_uvicorn(settings, host: str, port: int, workers: int, access_log: bool, log_config: dict) -> int:
    """uvicorn with its compiled parts where installed (uvloop, httptools): less CPU per
    request than hypercorn (bench/request_path.py --server uvicorn), the same Hub."""
    import uvicorn

    uvicorn.run(
        "core.asgi:app", host=host, port=port, workers=workers if workers > 1 else None,
        backlog=settings.server.backlog, access_log=access_log, log_config=log_config,
        lifespan="on", server_header=False,
        # Client addresses are the peer's, as with hypercorn: uvicorn would otherwise take
        # X-Forwarded-For from any loopback client (login throttles key on the address).
        proxy_headers=False,
        timeout_graceful_shutdown=3,  # hypercorn's graceful timeout
    )
    return 0  # uvicorn exits the process itself when it cannot start


_ASGI_SERVERS = {"hypercorn": _serve_with_hypercorn, "uvicorn": _serve_with_uvicorn}


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _check_bind(host: str, port: int) -> None:
    """Bind once before anything is announced: a port in use is one line, not a traceback after
    a "serving" line. The server binds again, for its workers, right after."""
    import socket

    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise CommandFailed(f"cannot start: {_bind_problem(error, host, port)}") from None


def _bind_problem(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use (stop the other server, or use --port)"
    if error.errno == errno.EACCES:
        return f"no permission to listen on port {port} on {host}"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


def _url_to_open(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # listening everywhere: here too
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


# -- hub worker -----------------------------------------------------------------------------------


def cmd_worker(args) -> None:
    """A master that keeps N worker processes running (each: the Hub app without HTTP,
    T jobs at once) and stops them on SIGTERM/SIGINT: send those to the master only."""
    from core.jobs import worker
    from core.kernel.settings import SettingsError

    if args.child:
        from core.app import create_app
        from core.ops.observability.logs import configure_logging

        app = create_app()
        configure_logging(app.extensions["hub"].settings)
        sys.exit(worker.run_worker_process(app, args.threads))
    hub = _load()
    settings = hub.settings
    if not settings.redis_url:
        raise SettingsError(
            "hub worker needs redis_url (HUB_REDIS_URL); without Redis, `hub serve` runs jobs in process"
        )
    settings.signing_key()  # create the embedded secret once, not racily in each process
    if settings.auto_migrate:
        asyncio.run(_migrate(hub, quiet=True))
    os.environ["HUB_AUTO_MIGRATE"] = "false"  # done above, once, for all processes
    processes = args.processes or settings.jobs.worker_processes
    threads = args.threads or settings.jobs.worker_threads
    # The one-file binary (scripts/build_binary.sh) is its own interpreter: it runs `hub worker`
    # itself; otherwise this Python runs this file.
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, os.path.abspath(__file__)]
    command = [*program, "worker", "--child", "--threads", str(threads)]
    sys.exit(worker.supervise(processes, command, settings.jobs.shutdown_grace_seconds))


# -- hub migrate / makemigrations -----------------------------------------------------------------


async def _migrate(hub, quiet: bool = False) -> int:
    """Apply pending migrations; how many were applied."""
    from core.kernel.db import apply_migrations

    applied = 0

    def progress(event: str, app_label: str, name: str) -> None:
        nonlocal applied
        if event == "apply_done":
            applied += 1
            if not quiet:
                print(f"  applied {app_label}.{name}")

    await apply_migrations(_db_config(hub), progress=progress)
    return applied


def cmd_migrate(args) -> None:
    asyncio.run(_migrate(_load()))
    print("Database is up to date.")


def cmd_makemigrations(args) -> None:
    import tortoise.cli.cli as tortoise_cli

    config = _db_config(_load())
    # tortoise's CLI reads its config from a module path; hand it ours directly.
    tortoise_cli._load_config = lambda _ctx: tortoise_cli.TortoiseConfig.resolve_args(config, None)
    context = tortoise_cli.CLIContext(config=None, config_file=None)
    asyncio.run(tortoise_cli.makemigrations(context, tuple(args.apps), False, args.name))


# -- hub create-admin -----------------------------------------------------------------------------


def cmd_create_admin(args) -> None:
    password = args.password or os.environ.get("HUB_ADMIN_PASSWORD")
    if not password:
        if sys.stdin is None or not sys.stdin.isatty():
            raise CommandFailed("create-admin needs a password: --password, or HUB_ADMIN_PASSWORD, or run it "
                                "on a terminal to be asked", 2)
        try:
            password = getpass.getpass("Password: ")
        except (EOFError, KeyboardInterrupt):
            raise CommandFailed("create-admin: no password given", 2) from None
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
        raise CommandFailed(f"create-admin: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}", 2) from None
    hub = _load()
    await open_database(_db_config(hub), migrate=True)
    try:
        hub.signing_key = hub.settings.signing_key()
        user = await accounts.register(hub, **data.model_dump())
    except Exception as error:  # HubError carries a readable message
        raise CommandFailed(f"create-admin: {getattr(error, 'message', error)}") from None
    finally:
        await close_database()
    print(f"Created admin {user.email} in organization {user.org_id}")


# -- hub rotate-credentials -----------------------------------------------------------------------


def cmd_rotate_credentials(args) -> None:
    asyncio.run(_rotate_credentials())


async def _rotate_credentials() -> None:
    from core.kernel.db import close_database, open_database
    from core.tenancy.credentials import CredentialsUnreadable, rotate_credentials

    hub = _load()
    await open_database(_db_config(hub), migrate=True)
    try:
        hub.signing_key = hub.settings.signing_key()
        rotated = await rotate_credentials(hub)
    except CredentialsUnreadable as error:
        raise CommandFailed(f"rotate-credentials: nothing was rewritten: {error}") from None
    finally:
        await close_database()
    print(f"Re-encrypted {rotated} stored credential(s) with the current secret_key; "
          "previous_secret_keys may now be emptied.")


# -- hub plugins ----------------------------------------------------------------------------------


def cmd_plugins(args) -> None:
    plugins = _load().plugins
    print(f"{'name':<20} {'version':<10} {'source':<12} {'mount':<12} hooks")
    for info in sorted(plugins.values(), key=lambda p: p.name):
        print(f"{info.name:<20} {info.version:<10} {info.source:<12} {info.mount or '/':<12} {', '.join(info.hooks)}")


# -- hub new-plugin -------------------------------------------------------------------------------


def cmd_new_plugin(args) -> None:
    from core.scaffold import ScaffoldError, names_for, new_plugin

    try:
        names = names_for(args.name)
        root = Path(args.dir or names["dist"])
        written = new_plugin(args.name, root)
    except ScaffoldError as error:
        raise CommandFailed(f"new-plugin: {error}", 2) from None
    print(f"Wrote the {args.name!r} plugin ({len(written)} files) to {root}/:")
    for path in written:
        print(f"  {path}")
    print(f"Next: pip install -e {root} && hub plugins   (tests: cd {root} && pytest)")


# -- hub <plugin> <command> -----------------------------------------------------------------------


def plugin_commands() -> dict[str, dict[str, dict]]:
    """The commands plugins register (hub_commands), by plugin: loads the plugins, not the database."""
    from core.kernel.contributions import command_registrar
    from core.kernel.plugins import PluginError

    hub = _load()
    hub.collect("hub_commands", command_registrar(hub))
    for plugin in hub.commands:
        if plugin in BUILTIN_COMMANDS:
            raise PluginError(f"plugin {plugin!r} cannot have commands: `hub {plugin}` is a built-in command")
    return hub.commands


def cmd_plugin_command(args) -> None:
    sys.exit(asyncio.run(_run_plugin_command(args.plugin, args.plugin_command, args)))


async def _run_plugin_command(plugin: str, name: str, args) -> int | None:
    """Run a plugin's command with the Hub started as `hub serve` starts it (database open,
    migrations applied when auto_migrate is on, hub_startup run) but no HTTP server; the
    handler's return value is the exit status."""
    import inspect

    from core.app import create_app
    from core.kernel.errors import HubError

    app = create_app()
    hub = app.extensions["hub"]
    handler = hub.commands[plugin][name]["handler"]
    await app.startup()
    try:
        async with app.app_context():
            result = handler(args, hub)
            if inspect.isawaitable(result):
                result = await result
    except HubError as error:  # e.g. a service's validation error: its message is for people
        field, reason = error.details.get("field"), error.details.get("reason")
        print(f"hub {plugin} {name}: {error.message}" + (f" ({field}: {reason})" if field and reason else ""),
              file=sys.stderr)
        return 1
    finally:
        await app.shutdown()
    return result


def _add_plugin_commands(commands, registered: dict[str, dict[str, dict]]) -> None:
    for plugin, by_name in sorted(registered.items()):
        group = commands.add_parser(plugin, help=f"{plugin} plugin: {', '.join(sorted(by_name))}",
                                    description=f"Commands of the {plugin} plugin.")
        names = group.add_subparsers(dest="plugin_command", required=True, metavar="command")
        for name, command in sorted(by_name.items()):
            parser = names.add_parser(name, help=command["help"], description=command["help"])
            for flags, options in command["arguments"]:
                parser.add_argument(*flags, **options)
            parser.set_defaults(func=cmd_plugin_command, plugin=plugin)


# -- parsing --------------------------------------------------------------------------------------


class HubArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {value!r})")
    return int(value)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The built-in commands; plugin commands too unless a built-in command is asked for (so
    that those, and `hub` alone, never load the plugins)."""
    parser = HubArgumentParser(prog="hub", description="The Hub: one server, many plugins.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=_positive)
    serve.add_argument("--access-log", action="store_true")
    serve.add_argument("--server", choices=["hypercorn", "uvicorn"],
                       help="the ASGI server (default [server] asgi_server: hypercorn)")
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
    admin.add_argument("--password", help="or HUB_ADMIN_PASSWORD, or asked for on a terminal")
    admin.add_argument("--organization", default=None)
    admin.add_argument("--first-name", default="Admin")
    admin.add_argument("--last-name", default="User")
    admin.set_defaults(func=cmd_create_admin)

    commands.add_parser("rotate-credentials", help="re-encrypt stored credentials with the current secret_key"
                        ).set_defaults(func=cmd_rotate_credentials)

    commands.add_parser("plugins", help="list plugins").set_defaults(func=cmd_plugins)

    scaffold = commands.add_parser("new-plugin", help="write a new plugin package from the template")
    scaffold.add_argument("name", help="the plugin's name: lowercase letters, digits, underscores (e.g. notes)")
    scaffold.add_argument("--dir", help="where to write it (default ./hub-NAME); must not exist or be empty")
    scaffold.set_defaults(func=cmd_new_plugin)

    if argv[:1] in (["-h"], ["--help"]):
        try:
            _add_plugin_commands(commands, plugin_commands())
        except Exception as error:  # bad settings must not hide the help; they are named instead
            parser.epilog = f"Plugin commands are not listed: {error}"
    elif argv and argv[0] not in BUILTIN_COMMANDS:
        _add_plugin_commands(commands, plugin_commands())
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=os.environ.get("HUB_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from core.kernel.plugins import PluginError
    from core.kernel.settings import SettingsError

    try:
        args = build_parser(argv).parse_args(argv)
        args.func(args)
    except (SettingsError, PluginError) as error:
        print(f"hub: cannot start: {error}", file=sys.stderr)
        sys.exit(2)
    except CommandFailed as error:
        print(f"hub: {error}", file=sys.stderr)
        sys.exit(error.status)


if __name__ == "__main__":
    main()
