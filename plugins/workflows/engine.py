"""Running one execution: the job `workflows.execute` calls `run(ctx, execution_id)`.

Durable step by step. A step's start (attempt counted, input) and its end (status, output) are
each committed, with their events, before anything that depends on them is scheduled: the ends
of the steps that just finished and the starts of the steps they made ready are one transaction
(in a chain, one commit per step), written before those steps run. A worker that dies
mid-execution leaves its job to another (the core's jobs); that one reloads the steps: a
finished step is never run again (its stored output is used), a step that was running runs
again with its attempt counted.

Scheduling: a node is ready once every node with an edge into it has finished. It runs when at
least one of those edges is active (its source completed and sent data out of the edge's port,
and a conditional edge's condition holds); otherwise it is skipped, and so are the nodes only it
leads to. Independent branches run concurrently (at most the workflow's `max_concurrency`
steps at once); a join waits for all its inputs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from core import JobContext, NodeContext, emit, principal_for_user, transaction, utcnow
from plugins.workflows.expressions import ExpressionError, render, truthy
from plugins.workflows.graph import Graph, resolve_type
from plugins.workflows.models import Execution, ExecutionStep, WorkflowVersion

log = logging.getLogger("hub.workflows")

FINISHED = ("completed", "failed", "cancelled", "timeout")
STEP_DONE = ("completed", "failed", "skipped")
MAX_STEP_OUTPUT_BYTES = 1024 * 1024
CANCEL_POLL_SECONDS = 0.5


class StepFailed(Exception):
    pass


async def run(ctx: JobContext, execution_id: str) -> dict:
    execution = await Execution.filter(id=execution_id, org_id=ctx.org_id).first()
    if execution is None or execution.status in FINISHED:
        return {"status": execution.status if execution else "missing"}
    version = await WorkflowVersion.get(workflow_id=execution.workflow_id, version=execution.workflow_version)
    runner = Runner(ctx, execution, version.definition)
    await runner.load()
    return await runner.run()


def status_message(execution: Execution, current_step: str | None = None) -> dict:
    return {"execution_id": str(execution.id), "workflow_id": str(execution.workflow_id), "status": execution.status,
            "progress": execution.progress, "current_step": current_step, "error_message": execution.error_message}


class Runner:
    def __init__(self, ctx: JobContext, execution: Execution, definition: dict) -> None:
        self.ctx, self.execution, self.definition = ctx, execution, definition
        self.hub = ctx.hub
        self.graph = Graph.of(definition)
        self.settings = definition.get("settings") or {}
        self.steps: dict[str, ExecutionStep] = {}
        self.outputs: dict[str, dict] = {}
        self.finished: dict[str, dict] = {}  # `steps` of the expressions' scope
        self.order = {node_id: index for index, node_id in enumerate(self.graph.nodes)}
        self.waiting: dict[str, int] | None = None  # per node: input nodes not finished yet
        self.unblocked: set[str] = set()
        self.variables = {v["name"]: v.get("default_value") for v in definition.get("variables", [])}
        self.variables.update((execution.context or {}).get("variables") or {})
        self.principal = None
        # Steps finished or skipped in memory, with their event's data, not committed yet: the
        # loop commits them with the starts of the steps they make ready (`_commit`).
        self.ended: list[tuple[ExecutionStep, dict]] = []

    async def load(self) -> None:
        for step in await ExecutionStep.filter(execution_id=self.execution.id):
            self.steps[step.node_id] = step
            if step.status in ("completed", "failed"):
                self.outputs[step.node_id] = step.output_data or {}
            if step.status in STEP_DONE:
                self._remember(step)
        self.principal = await principal_for_user(self.execution.created_by, self.execution.org_id,
                                                  scopes=(self.execution.context or {}).get("_scopes"), hub=self.hub)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> dict:
        execution = self.execution
        if execution.status == "pending":
            async with transaction():
                execution.status, execution.started_at = "running", utcnow()
                await execution.save(update_fields=["status", "started_at", "updated_at"])
                await emit(execution.org_id, "workflow.execution.started", status_message(execution), hub=self.hub)
        deadline = execution.started_at + timedelta(seconds=self.settings.get("timeout_seconds", 3600))
        limit = self.settings.get("max_concurrency", 4)
        running: dict[str, asyncio.Task] = {}
        polled = time.monotonic()
        try:
            while True:
                starting: dict[str, dict] = {}
                skipped = True
                while skipped:  # skips make more nodes ready
                    skipped = False
                    for node_id in self._ready(running):
                        if node_id in starting:
                            continue
                        if len(running) + len(starting) >= limit:
                            break
                        try:
                            inputs = self._inputs(node_id)
                        except StepFailed as error:
                            return await self._stop(running, "failed", str(error))
                        if inputs is None:
                            self._skip(node_id)
                            skipped = True
                            continue
                        starting[node_id] = inputs
                if not starting and not running:
                    break  # `_finish` commits the last ends with the execution's
                await self._commit(starting)
                for node_id, inputs in starting.items():
                    running[node_id] = asyncio.ensure_future(self._run_step(node_id, inputs))
                remaining = (deadline - utcnow()).total_seconds()
                if remaining <= 0:
                    return await self._stop(running, "timeout", "The workflow ran past its timeout")
                done, _ = await asyncio.wait(running.values(), timeout=min(remaining, CANCEL_POLL_SECONDS),
                                             return_when=asyncio.FIRST_COMPLETED)
                if time.monotonic() - polled >= CANCEL_POLL_SECONDS or not done:
                    polled = time.monotonic()
                    stop = await self._stop_requested()
                    if stop:
                        return await self._stop(running, *stop)
                for node_id in [n for n, task in running.items() if task in done]:
                    task = running.pop(node_id)
                    error = task.exception()
                    if error is not None:
                        return await self._stop(running, "failed", str(error) or type(error).__name__, failed=node_id)
        except asyncio.CancelledError:
            for task in running.values():
                task.cancel()
            try:  # what finished is kept (the worker lost the job, or stops)
                await self._commit({})
            except Exception:
                log.warning("could not record the steps execution %s finished before it stopped", execution.id,
                            exc_info=True)
            raise
        return await self._finish()

    def _ready(self, running: dict) -> list[str]:
        """Nodes not started whose every input node has finished, in definition order (kept
        by counting, not by walking the graph at each step: a long chain stays linear)."""
        if self.waiting is None:
            self.waiting = {node_id: sum(1 for edge in self.graph.incoming[node_id]
                                         if not self._done(edge["source_node_id"])) for node_id in self.graph.nodes}
            self.unblocked = {node_id for node_id, count in self.waiting.items() if count == 0}
        ready = [node_id for node_id in self.unblocked if node_id not in running and not self._done(node_id)]
        return sorted(ready, key=self.order.__getitem__)

    def _unblock_after(self, node_id: str) -> None:
        if self.waiting is None:
            return  # counted from the steps when first needed
        for edge in self.graph.outgoing[node_id]:
            target = edge["target_node_id"]
            self.waiting[target] -= 1
            if self.waiting[target] == 0:
                self.unblocked.add(target)

    def _done(self, node_id: str) -> bool:
        step = self.steps.get(node_id)
        return step is not None and step.status in STEP_DONE

    def _inputs(self, node_id: str) -> dict | None:
        """What reaches the node by port, or None when no edge into it is active (skip it)."""
        edges = self.graph.incoming[node_id]
        if not edges:
            return {"main": self.execution.input_data}
        by_port: dict[str, list] = {}
        active = False
        for edge in edges:
            source = edge["source_node_id"]
            if self.steps[source].status == "skipped":
                continue
            outputs = self.outputs.get(source, {})
            if edge["source_port"] not in outputs:
                continue
            data = outputs[edge["source_port"]]
            if edge.get("condition"):
                try:
                    if not truthy(edge["condition"], self.scope(data)):
                        continue
                except ExpressionError as error:
                    raise StepFailed(f"edge {edge['id']}: {error}") from None
            active = True
            if edge["type"] != "control":  # a control edge orders, it carries nothing
                by_port.setdefault(edge["target_port"], []).append(data)
        if not active:
            return None
        # several edges into one port: their data as a list, in edge order
        return {port: values[0] if len(values) == 1 else values for port, values in by_port.items()}

    def _remember(self, step: ExecutionStep) -> None:
        """A finished step as expressions see it (kept up to date here, not rebuilt per step)."""
        outputs = self.outputs.get(step.node_id, {})
        main = outputs.get("main", next(iter(outputs.values()), None)) if outputs else None
        if step.node_id not in self.finished:
            self._unblock_after(step.node_id)
        self.finished[step.node_id] = {"output": main, "outputs": outputs, "status": step.status}

    def scope(self, node_input: Any) -> dict[str, Any]:
        return {"inputs": self.execution.input_data, "variables": self.variables, "steps": self.finished,
                "input": node_input, "execution": {"id": str(self.execution.id),
                                                   "workflow_id": str(self.execution.workflow_id)}}

    # -- one step ---------------------------------------------------------------------------------

    async def _run_step(self, node_id: str, inputs: dict) -> None:
        """Run a step whose start `_commit` wrote (and its retries, each start written here); its
        end is left in `self.ended` for the loop to commit."""
        node = self.graph.nodes[node_id]
        kind = self.hub.workflow_nodes.get(resolve_type(node["type"]))
        settings = node.get("settings") or {}
        step = self.steps[node_id]
        attempts_left = max(1, settings.get("retries", 0) + 2 - step.attempt)  # this attempt included
        while True:
            attempts_left -= 1
            node_ctx = NodeContext(self.execution.org_id, self.execution.created_by, self.hub, str(self.execution.id),
                                   self.principal)
            started = time.monotonic()
            try:
                if kind is None:
                    raise StepFailed(f"node type {node['type']!r} is not available (its plugin was disabled)")
                try:
                    config = kind.config_model.model_validate(render(node.get("config") or {}, self.scope(inputs.get("main"))))
                except ValidationError as error:
                    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
                    raise StepFailed(f"config: {problems}") from None
                result = await asyncio.wait_for(kind.run(node_ctx, config, inputs), settings.get("timeout_seconds", 60))
                outputs = _checked_outputs(result, kind.outputs)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if isinstance(error, asyncio.TimeoutError):
                    message = f"timed out after {settings.get('timeout_seconds', 60)} s"
                else:
                    message = str(error) or type(error).__name__
                if attempts_left > 0:
                    await asyncio.sleep(settings.get("retry_backoff_seconds", 1.0) * 2 ** max(0, step.attempt - 1))
                    async with transaction():
                        await self._write_start(step, inputs)
                    continue
                if settings.get("continue_on_error"):
                    self._step_finished(step, "failed", {"main": {"error": message}}, node_ctx.usage, started, message)
                    return
                self._step_finished(step, "failed", None, node_ctx.usage, started, message)
                raise StepFailed(f"step {node_id} failed: {message}") from None
            self._step_finished(step, "completed", outputs, node_ctx.usage, started)
            return

    async def _commit(self, starting: dict[str, dict]) -> None:
        """One transaction: the steps that ended (with the execution's progress) and the starts
        of `starting` (node id -> inputs), each with its event. Before any of those steps runs."""
        if not self.ended and not starting:
            return
        ended, self.ended = self.ended, []
        execution = self.execution
        try:
            async with transaction():
                for step, event in ended:
                    await step.save()
                if ended:
                    await Execution.filter(id=execution.id).update(progress=execution.progress, updated_at=utcnow())
                for step, event in ended:
                    await emit(execution.org_id, "workflow.execution.step_finished", event, hub=self.hub)
                for node_id, inputs in starting.items():
                    await self._write_start(self._step(node_id), inputs)
        except BaseException:
            self.ended = ended + self.ended  # still to write
            raise

    def _step(self, node_id: str) -> ExecutionStep:
        step = self.steps.get(node_id)
        if step is None:  # written with its start, in one statement
            node = self.graph.nodes[node_id]
            step = self.steps[node_id] = ExecutionStep(
                org_id=self.execution.org_id, execution_id=self.execution.id, node_id=node_id,
                node_name=node.get("title") or node_id, node_type=node["type"])
        return step

    async def _write_start(self, step: ExecutionStep, inputs: dict) -> None:
        step.status, step.attempt, step.started_at = "running", step.attempt + 1, utcnow()
        step.input_data, step.error_message, step.completed_at = _jsonable(inputs), None, None
        await step.save()
        await emit(self.execution.org_id, "workflow.execution.step_started", self._step_event(step), hub=self.hub)

    def _step_finished(self, step: ExecutionStep, status: str, outputs: dict | None, usage: dict,
                       started: float, error: str | None = None) -> None:
        step.status, step.output_data, step.error_message = status, outputs, error[:4000] if error else None
        step.completed_at, step.duration_ms = utcnow(), round((time.monotonic() - started) * 1000, 3)
        step.usage = usage
        if outputs is not None:
            self.outputs[step.node_id] = outputs
        self._ended(step)

    def _skip(self, node_id: str) -> None:
        step = self._step(node_id)
        step.status, step.completed_at = "skipped", utcnow()
        self._ended(step)

    def _ended(self, step: ExecutionStep) -> None:
        self._remember(step)
        self.execution.progress = self._progress()
        self.ended.append((step, self._step_event(step)))

    def _progress(self) -> int:
        return int(100 * len(self.finished) / (len(self.graph.nodes) or 1))

    def _step_event(self, step: ExecutionStep) -> dict:
        return {"execution_id": str(self.execution.id), "workflow_id": str(self.execution.workflow_id),
                "node_id": step.node_id, "status": step.status, "attempt": step.attempt,
                "progress": self.execution.progress, "error_message": step.error_message,
                "duration_ms": step.duration_ms}

    # -- the end ---------------------------------------------------------------------------------

    async def _stop_requested(self) -> tuple[str, str] | None:
        row = await Execution.filter(id=self.execution.id).only("id", "cancel_requested", "error_message").first()
        if row is not None and row.cancel_requested:
            return "cancelled", row.error_message or "Cancelled"
        if self.ctx.cancelled:  # the job was taken over by another worker: leave it to that one
            raise asyncio.CancelledError()
        return None

    async def _stop(self, running: dict[str, asyncio.Task], status: str, message: str, failed: str | None = None) -> dict:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
        stopped = []
        for node_id in running:
            step = self.steps.get(node_id)
            if step is None or step.status != "running":
                continue  # never started, or it finished just before the stop
            step.status, step.completed_at = ("timeout" if status == "timeout" else "cancelled"), utcnow()
            step.error_message = message
            stopped.append(step)
        return await self._finish(status, message, stopped)

    async def _finish(self, status: str = "completed", message: str | None = None,
                      stopped: list[ExecutionStep] = ()) -> dict:
        """The execution's end, in one transaction with the steps that ended since the last
        commit and the `stopped` ones (cancelled or timed out mid-run)."""
        execution = self.execution
        steps = list(self.steps.values())
        usage: dict[str, float] = {}
        for step in steps:
            for name, amount in (step.usage or {}).items():
                usage[name] = usage.get(name, 0) + amount
        leaves = [node_id for node_id in self.graph.nodes if not self.graph.outgoing[node_id]]
        execution.status, execution.completed_at = status, utcnow()
        execution.error_message = message[:4000] if message else None
        if status == "completed":
            execution.progress = 100
            execution.output_data = {node_id: self.outputs[node_id].get("main", self.outputs[node_id])
                                     for node_id in leaves if self.steps.get(node_id) and self.steps[node_id].status == "completed"}
        execution.metrics = {
            "total_duration_ms": round((execution.completed_at - execution.started_at).total_seconds() * 1000, 3),
            "ai_processing_time_ms": round(usage.get("ai_ms", 0), 3), "api_calls_count": int(usage.get("api_calls", 0)),
            "tokens_used": int(usage.get("tokens", 0)), "cost_estimate": round(usage.get("cost", 0), 6),
        }
        event = {"completed": "completed", "failed": "failed", "cancelled": "cancelled", "timeout": "timed_out"}[status]
        ended, self.ended = self.ended, []
        async with transaction():
            for step in [*(step for step, _ in ended), *stopped]:
                await step.save()
            for _, step_event in ended:
                await emit(execution.org_id, "workflow.execution.step_finished", step_event, hub=self.hub)
            await execution.save()
            await emit(execution.org_id, f"workflow.execution.{event}", status_message(execution), hub=self.hub)
        if status in ("failed", "timeout"):
            await self._start_error_workflow()
        return {"status": status, "execution_id": str(execution.id)}

    async def _start_error_workflow(self) -> None:
        from plugins.workflows import service

        target = self.settings.get("error_workflow_id")
        if not target or (self.execution.context or {}).get("error_of"):  # no chains of error workflows
            return
        try:
            await service.start_execution(
                self.hub, self.execution.org_id, target, self.execution.created_by,
                inputs={"execution_id": str(self.execution.id), "workflow_id": str(self.execution.workflow_id),
                        "status": self.execution.status, "error_message": self.execution.error_message,
                        "failed_steps": [s.node_id for s in self.steps.values() if s.status in ("failed", "timeout")]},
                context={"error_of": str(self.execution.id)}, metered=False)
        except Exception:
            log.warning("could not start the error workflow %s of execution %s", target, self.execution.id, exc_info=True)


def _checked_outputs(result: Any, ports: tuple[str, ...]) -> dict:
    if not isinstance(result, dict) or not all(isinstance(key, str) for key in result):
        raise StepFailed("the node returned something other than data by output port")
    unknown = sorted(set(result) - set(ports))
    if unknown:
        raise StepFailed(f"the node returned data for ports it does not have: {', '.join(unknown)}")
    result = _jsonable(result)
    if len(json.dumps(result)) > MAX_STEP_OUTPUT_BYTES:
        raise StepFailed(f"the step's output is larger than {MAX_STEP_OUTPUT_BYTES} bytes")
    return result


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
