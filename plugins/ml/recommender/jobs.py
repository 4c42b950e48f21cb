"""Background jobs of the recommender (core jobs, `hub_jobs`).

recommender.train   trains the model version recorded by `service.trigger_training`: reads
                    the tenant's interactions in the data range and its catalog, runs
                    `engine.train` in a thread (progress -> job progress, events and the
                    `ml_training_loss` gauge), writes the model to a temporary directory
                    renamed into `<data_dir>/recommender/<org>/<version>/` (a reader never
                    sees half a model), then activates it, unless it scored below popularity
                    on its holdout and the trigger did not say `force` (it stays ready, not
                    served). The tenant's `repurchase` setting goes to the engine ("auto":
                    the engine measures the repeat-purchase rate and decides); the rate and
                    the choice are stored in the tenant's settings and the job's result.
recommender.export  writes the training-data export (export.py).

Events: recommender.training.started / progress / completed / failed, with
{"job_id", "model_version", "model_type", ...}.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import JobCancelled, JobContext, JobFailed, emit, tenant_label, transaction
from plugins.ml.recommender import service
from plugins.ml.recommender.metrics import recommender_metrics
from plugins.ml.recommender.models import Item, ModelVersion, TenantSettings
from plugins.ml.recommender.serving import LoadedModel, serving_state

# numpy and the engine are imported when a job runs, not when the server starts (see service.py).
if TYPE_CHECKING:
    from plugins.ml.recommender import engine

log = logging.getLogger("hub.recommender.jobs")

PROGRESS_POLL_SECONDS = 0.5
LOADING_SHARE, TRAINING_SHARE = 10, 85  # job progress %: reading data, then training, then saving


def register_jobs(register) -> None:
    # One training run at a time per organization (plans may allow more: the limit
    # "concurrent_jobs.recommender.train"); the others wait, pending, for the slot.
    register("recommender.train", train_job, max_attempts=2, concurrency_per_org=1)
    register("recommender.export", export_job, max_attempts=3, timeout_seconds=3600, concurrency_per_org=2)


async def load_training_data(org_id: Any, data_range: dict) -> tuple["engine.InteractionLog", list]:
    import numpy as np

    from plugins.ml.recommender import engine

    query = service.interactions_between(org_id, data_range.get("start_date"), data_range.get("end_date"))
    rows = await query.order_by("occurred_at").values_list("user_id", "item_id", "interaction_type", "occurred_at")
    interactions = engine.InteractionLog(
        user_ids=[r[0] for r in rows], item_ids=[r[1] for r in rows], types=[r[2] for r in rows],
        timestamps=np.array([r[3].timestamp() for r in rows], dtype=np.float64),
    )
    items = [service.item_info(row) for row in
             await Item.for_org(org_id).filter(deleted_at__isnull=True).values(*service.ITEM_INFO_FIELDS)]
    return interactions, items


class _Progress:
    """Written by the training thread, read by the job's loop (plain attribute swaps)."""

    def __init__(self) -> None:
        self.fraction = 0.0
        self.stage = "starting"
        self.losses: list[tuple[Any, float]] = []
        self.cancelled = False

    def __call__(self, fraction: float, stage: str, info: dict | None = None) -> None:
        if self.cancelled:
            raise JobCancelled("training cancelled")  # stops engine.train at its next report
        self.fraction, self.stage = float(fraction), str(stage)
        info = info or {}
        if "loss" in info:
            self.losses.append((info.get("epoch", len(self.losses) + 1), float(info["loss"])))


async def train_job(ctx: JobContext, payload: dict) -> dict:
    hub, org = ctx.hub, ctx.org_id
    version = payload["version"]
    row = await ModelVersion.filter(org_id=org, version=version).first()
    if row is None:
        raise JobFailed(f"model version {version} no longer exists")
    if row.status == "ready":  # an earlier attempt finished; jobs may run twice
        return {"model_version": version, "status": "ready"}
    labels = {"job_id": ctx.job_id, "model_version": version, "model_type": row.model_type}
    async with transaction():  # each event is recorded with the state change it announces
        await ModelVersion.filter(id=row.id).update(status="training", error=None)
        await emit(org, "recommender.training.started", labels, hub=hub)
    started = time.monotonic()
    try:
        trained = await _train(ctx, row, labels)
    except BaseException as error:
        message = str(error) or type(error).__name__
        async with transaction():
            await ModelVersion.filter(id=row.id).update(status="failed", error=message[:4000])
            await emit(org, "recommender.training.failed", {**labels, "error": message[:500]}, hub=hub)
        if isinstance(error, ValueError):  # bad hyperparameters, unsupported model: retrying cannot help
            raise JobFailed(message) from error
        raise
    duration = time.monotonic() - started
    recommender_metrics(hub).training_duration.labels(tenant_label(hub, org), row.model_type).observe(duration)
    refused = None if payload.get("force") else service.below_popularity(trained.metrics)
    repurchase = {"mode": trained.mode, "rate": trained.metrics.get("repeat_purchase_rate"),
                  "decision": "always" if trained.metrics.get("repurchase") else "never"}
    # Ready, active and announced in one transaction: a retry after a crash past this point finds
    # the version ready and returns, and the events are already in the outbox.
    async with transaction():
        await ModelVersion.filter(id=row.id).update(status="ready", **trained.columns)
        await TenantSettings.for_org(org).update(repeat_purchase_rate=repurchase["rate"],
                                                 repurchase_decision=repurchase["decision"])
        if refused is None:
            await service.mark_active(hub, org, version)
        await emit(org, "recommender.training.completed", {**labels, "duration_seconds": round(duration, 3),
                                                            "metrics": trained.metrics}, hub=hub)
    if refused is None:
        await serving_state(hub).publish_active(org, version)
    await serving_state(hub).shared.incr([service.tenant_key(org)])  # the repurchase rule may have changed
    return {"model_version": version, "status": "ready", "activated": refused is None, "refused": refused,
            "holdout": trained.metrics.get("holdout"), "repurchase": repurchase,
            "metrics": trained.metrics, "path": trained.columns["path"]}


@dataclass
class _Trained:
    metrics: dict
    columns: dict  # of the ModelVersion row, set with status "ready"
    mode: str  # the tenant's repurchase setting the model was trained under


async def _train(ctx: JobContext, row: ModelVersion, labels: dict) -> _Trained:
    from plugins.ml.recommender import engine

    hub, org, version = ctx.hub, ctx.org_id, row.version
    snapshot = service.utcnow()  # items uploaded after this are added to the model when served
    interactions, items = await load_training_data(org, row.data_range or {})
    if not interactions.item_ids:
        raise JobFailed("No interactions to train on in the requested data range")
    await ctx.progress(LOADING_SHARE, f"{len(interactions.item_ids)} interactions, {len(items)} items")
    progress = _Progress()
    mode = (await service.tenant_settings(org)).repurchase
    training = asyncio.ensure_future(asyncio.to_thread(
        engine.train, interactions, items, model_type=row.model_type,
        hyperparameters=row.hyperparameters or {}, progress=progress,
        repurchase={"always": True, "never": False}.get(mode),
    ))
    reported_losses = 0
    loss_gauge = recommender_metrics(hub).training_loss
    try:
        while not training.done():
            await asyncio.wait({training}, timeout=PROGRESS_POLL_SECONDS)
            progress.cancelled = ctx.cancelled
            await ctx.progress(LOADING_SHARE + TRAINING_SHARE * min(1.0, progress.fraction), progress.stage)
            for epoch, loss in progress.losses[reported_losses:]:
                loss_gauge.labels(tenant_label(hub, org), row.model_type).set(loss)
                await emit(org, "recommender.training.progressed",
                           {**labels, "epoch": epoch, "loss": loss, "progress": round(progress.fraction, 3),
                            "stage": progress.stage}, hub=hub)
            reported_losses = len(progress.losses)
    except asyncio.CancelledError:
        progress.cancelled = True  # the thread stops at its next progress report
        raise
    model = training.result()
    ctx.raise_if_cancelled()
    await ctx.progress(LOADING_SHARE + TRAINING_SHARE, "trained")  # the last poll may have missed the end
    relative = Path(str(org)) / version
    await asyncio.to_thread(save_model, model, service.data_root(hub), relative)
    metrics = _json_metrics(getattr(model, "metrics", {}) or {})
    # This process serves the fresh model without reading it back; others load it from disk.
    serving_state(hub).remember(org, LoadedModel(version, model, snapshot - service.CATALOG_SLACK, None))
    return _Trained(metrics, mode=mode, columns={
        "path": str(relative), "metrics": metrics, "dimension": int(model.dim), "item_count": len(model.item_ids),
        "interaction_count": len(interactions.item_ids), "trained_at": snapshot, "error": None,
    })


def save_model(model: Any, root: Path, relative: Path) -> None:
    """Write into a sibling temporary directory, then rename it into place: the final
    directory either does not exist or holds a complete model."""
    final = root / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    model.save(temporary)
    if final.exists():  # a retried attempt: the new files replace the old ones
        shutil.rmtree(final)
    os.replace(temporary, final)


def _json_metrics(metrics: dict) -> dict:
    import numpy as np

    clean = {}
    for name, value in metrics.items():
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if isinstance(value, (int, float, str, bool)) or value is None:
            clean[str(name)] = value
        elif isinstance(value, dict):
            clean[str(name)] = _json_metrics(value)
    return clean


async def export_job(ctx: JobContext, payload: dict) -> dict:
    from plugins.ml.recommender.export import export_training_data

    async def report(percent: float, message: str) -> None:
        await ctx.progress(percent, message)

    return await export_training_data(ctx.hub, ctx.org_id, payload.get("start_date"), payload.get("end_date"),
                                      progress=report)
