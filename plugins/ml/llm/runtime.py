"""The local model: loaded once per process (lazily, on first use), one generation at a time.

    completion = await complete(messages, tools=tools, tool_choice="auto", max_tokens=256)
    async for event in stream(messages, tools=tools): ...      # ContentDelta / ToolCallStart /
                                                               # ArgumentsDelta, then Finished
From a script, without an app:  `runtime = runtime_from_settings(LLMSettings(...), data_dir)`
then `await runtime.complete(...)` / `runtime.stream(...)`.

How requests share the model: llama.cpp contexts are not thread-safe, so each model has one
worker thread; generation runs there, token by token, and hands text back to the event loop.
Requests wait for the model in an asyncio queue of at most `queue_limit` waiters and at most
`queue_timeout_seconds`; beyond either they get 503 AI_SERVICE_UNAVAILABLE with `retry_after`.
A streaming client that goes away cancels its generation at the next token. Between requests
llama.cpp keeps the evaluated prompt: a new prompt that starts the same (system prompt and tool
list) only evaluates its new tail.

Tool calls are generated under the grammar of grammar.py (the GBNF text is cached per tool set,
choice and budget), parsed by prompts.py and validated against the tool's schema once more.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib.util
import logging
import os
import threading
import json
import time
import uuid
from contextlib import aclosing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

# OpenMP threads that spin while waiting collapse generation speed on small shared machines;
# the policy is read when llama.cpp's OpenMP runtime starts, so it must be set before loading.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import core  # noqa: E402
from core import HubError, current_hub  # noqa: E402
from plugins.ml.llm import grammar as grammars  # noqa: E402
from plugins.ml.llm import prompts  # noqa: E402
from plugins.ml.llm.settings import LLMSettings  # noqa: E402

log = logging.getLogger("hub.llm")

FETCH_HINT = "hub llm fetch-model"


# -- results ---------------------------------------------------------------------------------------


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict  # validated against the tool's schema


@dataclass
class Completion:
    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: str  # "stop" | "length" | "tool_calls"
    prompt_tokens: int
    completion_tokens: int
    model: str
    latency_ms: float
    time_to_first_token_ms: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# Events of `stream()`, in order: ContentDelta* | (ToolCallStart ArgumentsDelta*), then Finished.
@dataclass
class ContentDelta:
    text: str


@dataclass
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass
class ArgumentsDelta:
    index: int
    text: str


@dataclass
class Finished:
    completion: Completion


StreamEvent = ContentDelta | ToolCallStart | ArgumentsDelta | Finished


def unavailable(message: str, retry_after: int, **details: Any) -> HubError:
    return HubError("AI_SERVICE_UNAVAILABLE", message, {"retry_after": retry_after, **details},
                    headers={"Retry-After": str(retry_after)})


# -- the model -------------------------------------------------------------------------------------


@dataclass
class _Generation:
    """What the worker thread reports while generating."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    first_token_at: float | None = None


class ModelRuntime:
    """One GGUF model: its llama.cpp instance, worker thread, queue and prompt format."""

    def __init__(self, settings: LLMSettings, data_dir: Path | str = "data") -> None:
        self.settings = settings
        self.path = settings.resolved_model_path(data_dir)
        self.name = settings.resolved_model_name(data_dir)
        self.created = int(time.time())
        self._llama = None
        self._template: prompts.ChatTemplate | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm")
        self._load_lock = threading.Lock()
        self._gate: asyncio.Lock | None = None
        self._gate_loop: asyncio.AbstractEventLoop | None = None
        self._waiting = 0
        self._closed = False
        self._compiled: set[str] = set()  # grammar texts llama.cpp has parsed
        self.last_finish_reason: str | None = None  # of the latest generation ("cancelled" included)

    # -- identity

    def accepts(self, model: str | None) -> bool:
        return model is None or model in (self.name, self.path.name, *self.settings.aliases)

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def missing_reason(self) -> str | None:
        if not self.path.is_file():
            return (f"No local model at {self.path}: set plugins.llm.model_path (HUB_PLUGINS__LLM__MODEL_PATH) "
                    f"to a GGUF file, or run `{FETCH_HINT}` to put SmolLM2-135M-Instruct there")
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            return "llama-cpp-python is not installed: pip install -e '.[llm]'"
        return None

    # -- loading

    def _load(self):
        with self._load_lock:
            if self._llama is None:
                import llama_cpp.llama as llama_module
                from llama_cpp import Llama

                settings = self.settings
                # Llama() takes no argument for use_extra_bufts, so its default params are
                # adjusted while it is built (under the load lock; see LLMSettings.extra_buffer_types).
                default_params = llama_module.llama_cpp.llama_model_default_params

                def model_params():
                    params = default_params()
                    params.use_extra_bufts = settings.extra_buffer_types
                    return params

                llama_module.llama_cpp.llama_model_default_params = model_params
                try:
                    llama = Llama(
                        model_path=str(self.path), n_ctx=settings.context_size, n_threads=settings.threads,
                        n_threads_batch=settings.batch_threads or settings.threads,
                        n_gpu_layers=settings.gpu_layers, n_batch=settings.batch_size, seed=settings.seed,
                        verbose=False,
                    )
                finally:
                    llama_module.llama_cpp.llama_model_default_params = default_params
                template = settings.chat_template or llama.metadata.get("tokenizer.chat_template")
                bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
                eos = llama._model.token_get_text(llama.token_eos()) if llama.token_eos() >= 0 else ""
                self._template = prompts.ChatTemplate(template, bos, eos)
                self._llama = llama
                log.info("llm: loaded %s (context %d, %d threads)", self.path, settings.context_size, settings.threads)
        return self._llama

    async def ensure_loaded(self) -> None:
        if self._llama is not None:
            return
        reason = self.missing_reason()
        if reason:
            raise unavailable(reason, self.settings.retry_after_seconds, setting="plugins.llm.model_path",
                              model_path=str(self.path))
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def close(self) -> None:
        self._closed = True
        llama, self._llama = self._llama, None

        def _free():
            if llama is not None:
                llama.close()

        self._executor.submit(_free)
        self._executor.shutdown(wait=True)

    # -- the queue

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate_loop is not loop:
            # The worker thread serialises llama.cpp anyway; the lock only orders waiters.
            self._gate, self._gate_loop = asyncio.Lock(), loop
        return self._gate

    async def _acquire(self) -> asyncio.Lock:
        gate = self._lock()
        retry_after = self.settings.retry_after_seconds
        if gate.locked() and self._waiting >= self.settings.queue_limit:
            raise unavailable("The model is busy and its queue is full; retry later", retry_after,
                              queue_limit=self.settings.queue_limit)
        self._waiting += 1
        try:
            await asyncio.wait_for(gate.acquire(), self.settings.queue_timeout_seconds)
        except asyncio.TimeoutError:
            raise unavailable("Timed out waiting for the model; retry later", retry_after,
                              queue_timeout_seconds=self.settings.queue_timeout_seconds) from None
        finally:
            self._waiting -= 1
        return gate

    # -- generation

    def prepare(self, messages: list[dict], tools: list[dict] | None, tool_choice: Any,
                max_tokens: int | None) -> tuple[str, grammars.ToolGrammar | None, str | None, int]:
        """(prompt, grammar, forced choice, max_tokens) for one request; raises 400s for bad input."""
        settings = self.settings
        max_tokens = min(max_tokens or settings.default_max_tokens, settings.max_tokens_limit)
        tools = tools or None
        choice = _choice_name(tool_choice, tools)
        prompt = prompts.render(messages, tools, tool_choice, settings.chat_format, self._template)
        tool_grammar = None
        if tools and choice != "none":
            try:
                tool_grammar = grammars.build_tool_grammar(
                    tools, choice, prompts.SHAPES[settings.chat_format], max_tokens=max_tokens,
                    max_string_length=settings.max_string_length, max_array_items=settings.max_array_items)
            except grammars.GrammarError as error:
                raise HubError("VALIDATION_ERROR", f"Unsupported tool schema: {error}",
                               {"field": "tools", "reason": str(error)}) from None
        return prompt, tool_grammar, choice, max_tokens

    def _run(self, prompt: str, gbnf: str | None, max_tokens: int, temperature: float,
             cancel: threading.Event, emit: Callable[[str], None], state: _Generation) -> None:
        """In the worker thread: generate token by token, calling `emit(text)` for each piece."""
        import llama_cpp
        from llama_cpp import LlamaGrammar

        llama = self._llama
        # The chat template writes any BOS it wants ({{ bos_token }}), so none is added here.
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        state.prompt_tokens = len(tokens)
        room = llama.n_ctx() - len(tokens)
        if room <= 0:
            raise HubError("VALIDATION_ERROR", f"The prompt has {len(tokens)} tokens; the model's context is "
                           f"{llama.n_ctx()}", {"field": "messages", "reason": "context_length_exceeded"})
        max_tokens = min(max_tokens, room)
        if gbnf and not self._grammar_compiles(gbnf):
            raise HubError("VALIDATION_ERROR", "Unsupported tool schema: its grammar does not compile",
                           {"field": "tools", "reason": "grammar does not compile"})
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        grammar = LlamaGrammar.from_string(gbnf, verbose=False) if gbnf else None
        vocab = llama._model.vocab
        state.finish_reason = "length"
        for token in llama.generate(tokens, temp=max(temperature, 0.0), top_k=40, top_p=0.95, min_p=0.05,
                                    repeat_penalty=1.0, grammar=grammar):
            if state.first_token_at is None:
                state.first_token_at = time.perf_counter()
            if cancel.is_set():
                state.finish_reason = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                state.finish_reason = "stop"
                break
            state.completion_tokens += 1
            piece = decoder.decode(llama.detokenize([token]))
            if piece:
                state.text += piece
                emit(piece)
            if state.completion_tokens >= max_tokens:
                break
        self.last_finish_reason = state.finish_reason
        tail = decoder.decode(b"", final=True)
        if tail:
            state.text += tail
            emit(tail)

    def _grammar_compiles(self, gbnf: str) -> bool:
        """Whether llama.cpp parses `gbnf` (checked once per grammar text: llama-cpp-python would
        add a NULL sampler for a bad grammar and crash the process)."""
        import llama_cpp

        if gbnf in self._compiled:
            return True
        sampler = llama_cpp.llama_sampler_init_grammar(self._llama._model.vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:
            log.error("llm: grammar does not compile:\n%s", gbnf)
            return False
        llama_cpp.llama_sampler_free(sampler)
        if len(self._compiled) > 1024:
            self._compiled.clear()
        self._compiled.add(gbnf)
        return True

    async def grammar_compiles(self, gbnf: str) -> bool:
        await self.ensure_loaded()
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._grammar_compiles, gbnf)

    async def _pieces(self, prompt: str, gbnf: str | None, max_tokens: int, temperature: float,
                      state: _Generation) -> AsyncIterator[str]:
        """Text pieces as the worker thread produces them. Leaving early cancels generation."""
        await self.ensure_loaded()
        gate = await self._acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        done = object()

        def emit(piece: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        try:
            future = loop.run_in_executor(self._executor, self._run, prompt, gbnf, max_tokens, temperature,
                                          cancel, emit, state)
        except BaseException:
            gate.release()
            raise
        # The model is free again only when the thread has stopped, not when the caller left.
        future.add_done_callback(lambda _: (gate.release(), queue.put_nowait(done)))
        try:
            while True:
                piece = await queue.get()
                if piece is done:
                    break
                yield piece
            await future  # re-raises an error of the thread
        finally:
            cancel.set()

    # -- the public API

    async def stream(self, messages: list[dict], *, tools: list[dict] | None = None, tool_choice: Any = "auto",
                     max_tokens: int | None = None, temperature: float = 0.0,
                     model: str | None = None) -> AsyncIterator[StreamEvent]:
        started = time.perf_counter()
        self._check_model(model)
        await self.ensure_loaded()
        prompt, tool_grammar, choice, max_tokens = self.prepare(messages, tools, tool_choice, max_tokens)
        shape = prompts.SHAPES[self.settings.chat_format]
        state = _Generation()
        splitter = _CallSplitter(shape) if tool_grammar is not None else None
        async for piece in self._pieces(prompt, tool_grammar.gbnf if tool_grammar else None, max_tokens,
                                        temperature, state):
            if splitter is None:
                yield ContentDelta(piece)
            else:
                for event in splitter.feed(piece):
                    yield event
        completion = self._finish(state, tools, tool_grammar, started)
        if splitter is not None:
            for event in splitter.close(completion):
                yield event
        yield Finished(completion)

    async def complete(self, messages: list[dict], *, tools: list[dict] | None = None, tool_choice: Any = "auto",
                       max_tokens: int | None = None, temperature: float = 0.0,
                       model: str | None = None) -> Completion:
        events = self.stream(messages, tools=tools, tool_choice=tool_choice, max_tokens=max_tokens,
                             temperature=temperature, model=model)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Finished):
                    return event.completion
        raise RuntimeError("generation ended without a result")  # pragma: no cover

    def _check_model(self, model: str | None) -> None:
        if not self.accepts(model):
            raise HubError("NOT_FOUND", f"The model {model!r} does not exist", {"param": "model",
                                                                                "available": [self.name]})

    def _finish(self, state: _Generation, tools: list[dict] | None, tool_grammar, started: float) -> Completion:
        now = time.perf_counter()
        ttft = (state.first_token_at - started) * 1000 if state.first_token_at else None
        result = Completion(state.text, [], "stop" if state.finish_reason != "length" else "length",
                            state.prompt_tokens, state.completion_tokens, self.name, (now - started) * 1000, ttft)
        if tool_grammar is None:
            return result
        parsed = prompts.parse(state.text, self.settings.chat_format)
        by_name = {grammars.tool_name(t): t for t in tools or []}
        calls = []
        for call in parsed.calls:
            tool = by_name.get(call.name)
            problems = ["unknown function"] if tool is None else (
                ["arguments must be an object"] if not isinstance(call.arguments, dict)
                else grammars.validate(grammars.tool_parameters(tool), call.arguments))
            if problems:  # cannot happen under the grammar unless the output was cut off
                log.warning("llm: dropped an invalid tool call to %s: %s", call.name, problems)
                return result
            calls.append(ToolCall(call.id, call.name, call.arguments))
        if calls:
            result.content = parsed.content
            result.tool_calls = calls
            result.finish_reason = "tool_calls"
        elif self.settings.chat_format == "xlam" and state.text.strip() == prompts.XLAM_SHAPE.empty:
            result.content = ""  # xLAM's "no call needed"
        return result


def _choice_name(tool_choice: Any, tools: list[dict] | None) -> str | None:
    """"auto" | "required" | "none" | a function name (from {"type": "function", "function": {"name"}})."""
    if tool_choice is None:
        return "auto" if tools else "none"
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        if not tools or name not in {grammars.tool_name(t) for t in tools}:
            raise HubError("VALIDATION_ERROR", f"tool_choice names a function that is not in tools: {name!r}",
                           {"field": "tool_choice", "reason": "unknown function"})
        return name
    if tool_choice not in ("auto", "required", "none"):
        raise HubError("VALIDATION_ERROR", "tool_choice must be auto, none, required or a function",
                       {"field": "tool_choice", "reason": "invalid value"})
    if tool_choice == "required" and not tools:
        raise HubError("VALIDATION_ERROR", "tool_choice 'required' needs tools",
                       {"field": "tool_choice", "reason": "no tools given"})
    return tool_choice


class _CallSplitter:
    """Turns the text of a grammar-constrained answer into stream events: plain text as content,
    a tool call as its start (id, name) and then its arguments, piece by piece, as they are
    generated (the call's closing characters are held back until the end)."""

    def __init__(self, shape: grammars.CallShape) -> None:
        self.shape = shape
        self.buffer = ""
        self.mode: str | None = None  # "text" | "call"
        self.header_end: int | None = None
        self.sent = 0
        self.call_id = "call_" + uuid.uuid4().hex[:24]
        self.tail = len("}" + shape.suffix)

    def feed(self, piece: str) -> list[StreamEvent]:
        self.buffer += piece
        if self.mode is None and self.buffer:
            self.mode = "call" if self.buffer[0] == self.shape.text_excludes else "text"
        if self.mode == "text":
            return [ContentDelta(piece)]
        events: list[StreamEvent] = []
        if self.header_end is None:
            marker = '"arguments":'
            position = self.buffer.find(marker)
            if position < 0:
                return events
            header = self.buffer[len(self.shape.prefix):position].rstrip(",")
            try:
                name = json.loads(header + "}")["name"]
            except (ValueError, KeyError, TypeError):
                return events
            self.header_end = self.sent = position + len(marker)
            events.append(ToolCallStart(0, self.call_id, name))
        end = len(self.buffer) - self.tail
        if end > self.sent:
            events.append(ArgumentsDelta(0, self.buffer[self.sent:end]))
            self.sent = end
        return events

    def close(self, completion: Completion) -> list[StreamEvent]:
        """At the end: give the validated call the id its deltas carried."""
        if self.mode == "call" and self.header_end is not None and completion.tool_calls:
            completion.tool_calls[0].id = self.call_id
        return []


# -- one runtime per Hub --------------------------------------------------------------------------

EXTENSION = "llm.runtime"


def runtime_from_settings(settings: LLMSettings, data_dir: Path | str = "data") -> ModelRuntime:
    """A runtime of its own for scripts and benchmarks (the model loads on the first generation)."""
    return ModelRuntime(settings, data_dir)


def runtime_of(hub: Any) -> ModelRuntime:
    """The Hub's runtime for its current llm settings, created on first use (the model loads on
    the first generation). Settings changed at run time get a runtime of their own."""
    settings = hub.plugin_settings("llm")
    runtimes = hub.extensions.setdefault(EXTENSION, {})
    key = settings.model_dump_json()
    runtime = runtimes.get(key)
    if runtime is None or runtime._closed:
        runtime = runtimes[key] = ModelRuntime(settings, hub.settings.data_dir)
    return runtime


def current_runtime() -> ModelRuntime:
    """The runtime of the Hub handling the current request."""
    return runtime_of(current_hub())


async def close_runtime(hub: Any) -> None:
    for runtime in hub.extensions.pop(EXTENSION, {}).values():
        await asyncio.get_running_loop().run_in_executor(None, runtime.close)


async def complete(messages: list[dict], *, tools: list[dict] | None = None, tool_choice: str | dict = "auto",
                   max_tokens: int | None = None, temperature: float = 0.0, model: str | None = None) -> Completion:
    return await current_runtime().complete(messages, tools=tools, tool_choice=tool_choice, max_tokens=max_tokens,
                                            temperature=temperature, model=model)


async def stream(messages: list[dict], *, tools: list[dict] | None = None, tool_choice: str | dict = "auto",
                 max_tokens: int | None = None, temperature: float = 0.0,
                 model: str | None = None) -> AsyncIterator[StreamEvent]:
    async for event in current_runtime().stream(messages, tools=tools, tool_choice=tool_choice,
                                                max_tokens=max_tokens, temperature=temperature, model=model):
        yield event


async def health(hub: Any) -> str:
    """"healthy" when the model is loaded or loadable. Otherwise the check raises with the reason
    in a few words: /health reports the llm "unhealthy" (the rest of the Hub works, the AI routes
    answer 503 saying what to do) and the start-up summary of `hub serve` shows the reason."""
    runtime = runtime_of(hub)
    if runtime.loaded:
        return "healthy"
    if not runtime.path.is_file():
        raise RuntimeError(f"no model at {runtime.path} (hub llm fetch-model)")
    if importlib.util.find_spec("llama_cpp") is None:  # found, not imported: that takes 0.2 s
        raise RuntimeError("llama-cpp-python not installed (pip install -e '.[llm]')")
    return "healthy"


# -- metering ---------------------------------------------------------------------------------------


async def check_quota(org_id: Any, estimated_tokens: int) -> None:
    """Before generating: count one AI call and refuse (429 AI_QUOTA_EXCEEDED) an organization
    whose `ai_api_calls` or `ai_tokens` quota the request would exceed."""

    try:
        await core.check_quota(org_id, "ai_tokens", max(estimated_tokens, 0))
        await core.consume_quota(org_id, "ai_api_calls", 1)
    except HubError as error:
        if error.code != "QUOTA_EXCEEDED":
            raise
        raise HubError("AI_QUOTA_EXCEEDED", error.message, error.details, headers=error.headers) from None


async def record_tokens(org_id: Any, completion: Completion) -> None:
    """After generating: the tokens actually used."""

    await core.record_usage(org_id, "ai_tokens", completion.total_tokens)
