"""`hub recommender train --org ID`: train a model version of one organization from the command
line (hook hub_commands), as `POST /api/v1/recommender/training` does: the version is recorded
and its training job enqueued (service.trigger_training). Without Redis the job runs in this
process; with Redis a `hub worker` runs it. The command prints the job's progress and waits:
exit 0 when the version is ready (and active, unless it scored below popularity on its holdout
and --force was not given), 1 with the reason when it failed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from pydantic import ValidationError

from plugins.ml.recommender import service
from plugins.ml.recommender.models import ModelVersion
from plugins.ml.recommender.schemas import TrainingConfig

POLL_SECONDS = 0.5
QUEUED_HINT_SECONDS = 10  # still queued after this: say who should be running the job


def register_commands(register) -> None:
    register("train", train, "train a new model version of an organization (it becomes the active one)", [
        (("--org",), {"required": True, "metavar": "ORG_ID", "help": "the organization's id"}),
        (("--model-type",), {"help": "matrix_factorization or two_tower (default: the organization's default)"}),
        (("--epochs",), {"type": int, "help": "training passes (hyperparameter epochs)"}),
        (("--embedding-dim",), {"type": int, "help": "vector size (hyperparameter embedding_dim)"}),
        (("--param",), {"action": "append", "default": [], "metavar": "NAME=VALUE",
                        "help": "any other hyperparameter, e.g. --param ranker_rounds=0 (repeatable)"}),
        (("--force",), {"action": "store_true", "help": "serve the model even if it scores below popularity"}),
    ])


def _failed(message: str) -> int:
    print(f"hub recommender train: {message}", file=sys.stderr)
    return 1


def _hyperparameters(args) -> dict:
    chosen = {"epochs": args.epochs, "embedding_dim": args.embedding_dim}
    hyperparameters = {name: value for name, value in chosen.items() if value is not None}
    for item in args.param:
        name, separator, text = item.partition("=")
        if not separator or not name:
            raise ValueError(f"--param {item!r} is not NAME=VALUE")
        try:
            hyperparameters[name.strip()] = json.loads(text)  # numbers; anything else is a string
        except ValueError:
            hyperparameters[name.strip()] = text
    return hyperparameters


async def train(args, hub) -> int:
    try:
        org = str(uuid.UUID(args.org))
    except ValueError:
        return _failed(f"--org {args.org!r} is not an organization id")
    if not await hub.plugin_enabled_for(org, "recommender"):
        return _failed(f"the recommender is switched off for organization {org}")
    try:
        training = TrainingConfig(model_type=args.model_type, hyperparameters=_hyperparameters(args),
                                  force=args.force)
    except (ValueError, ValidationError) as error:  # pydantic's message names the field
        return _failed(str(error).replace("\n", " "))
    interactions = await service.interactions_between(org, None, None).count()
    if not interactions:
        return _failed(f"organization {org} has no interactions to train on")
    queued = await service.trigger_training(org, None, training)
    version, job_id = queued["model_version"], queued["job_id"]
    print(f"Training model {version} of organization {org} on {interactions} interactions (job {job_id})", flush=True)
    started = time.monotonic()
    row = await _wait_for_training(hub, org, version, job_id)
    if row.status != "ready":
        return _failed(f"model {version} failed: {row.error or 'no reason recorded'}")
    figures = ", ".join(f"{name} {value}" for name, value in (row.metrics or {}).items()
                        if isinstance(value, (int, float)))
    state = "ready and active" if row.is_active else "ready but not active (it scored below popularity)"
    print(f"Model {version} ({row.model_type}) is {state} after {time.monotonic() - started:.1f} s"
          + (f": {figures}" if figures else ""))
    return 0


async def _wait_for_training(hub, org: str, version: str, job_id: str) -> ModelVersion:
    """The model version once ready or failed, printing the job's progress meanwhile (its
    job.progressed events, seen when the job runs in this process)."""

    async def show_progress(event) -> None:
        if event.type == "job.progressed" and event.data.get("job_id") == job_id:
            print(f"  {event.data['progress']:3d}%  {event.data.get('message') or ''}".rstrip(), flush=True)

    hub.event_sinks.append(show_progress)
    waited = 0.0
    try:
        while True:
            row = await ModelVersion.filter(org_id=org, version=version).first()
            if row.status in ("ready", "failed"):
                return row
            if row.status == "queued" and waited < QUEUED_HINT_SECONDS <= waited + POLL_SECONDS:
                print("  still queued: with Redis, `hub worker` runs the training", flush=True)
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
    finally:
        hub.event_sinks.remove(show_progress)
