"""Local LLM: an OpenAI-compatible chat-completions server on llama.cpp whose tools are the
enabled plugins' hub functions (seed 000 xlam-server, seed 001 AI service), and AI agents that
run a bounded tool loop with the caller's permissions (seed 004 AI Agents API).

runtime.py   the model: loaded once per process, requests queued, generation in a thread
grammar.py   tool JSON schemas -> bounded llama.cpp grammar, so every tool call validates
prompts.py   chat formats (xLAM, <tools> XML tags): prompt in, tool calls out
routes.py    /v1/chat/completions, /v1/models, /v1/functions (OpenAI-shaped errors), /api/ai/completions
agents.py    agents, the tool loop and run records; agent_routes.py: /api/agents, ai-performance
commands.py  `hub llm fetch-model`
"""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.ml.llm.settings import LLMSettings

    return LLMSettings


def hub_models():
    return ["plugins.ml.llm.models"]


def hub_routes(app):
    from plugins.ml.llm.agent_routes import bp as agents_bp
    from plugins.ml.llm.routes import ai_bp
    from plugins.ml.llm.routes import bp as openai_bp

    return [openai_bp, ai_bp, agents_bp]


def hub_permissions(register):
    register("llm.models.read", "List the local models and the functions they may call", "read")
    register("llm.chat", "Run chat completions on the local model", "write")
    register("llm.agents.read", "See AI agents and their performance", "read")
    register("llm.agents.write", "Create and edit AI agents", "write")
    register("llm.agents.execute", "Run AI agents", "write")
    register("llm.agents.delete", "Delete AI agents", "admin")


def hub_error_codes(register):
    register("AI_QUOTA_EXCEEDED", 429, "The organization's AI calls or AI tokens for this month are used up")


def hub_event_types(register):
    from plugins.ml.llm.agent_schemas import EVENT_TYPES

    for name, payload, description, seed in EVENT_TYPES:
        register(name, payload, description, permission="llm.agents.read", seed=seed)


def hub_health_checks(register, hub):
    from plugins.ml.llm.runtime import health

    async def llm() -> str:
        return await health(hub)

    register("llm", llm)


def hub_workflow_nodes(register):
    from plugins.ml.llm.nodes import NODE_TYPES

    for name, description, config_model, run in NODE_TYPES:
        register(name, description, config_model, run)


def hub_commands(register):
    from plugins.ml.llm.commands import register_commands

    register_commands(register)


async def hub_shutdown(hub):
    from plugins.ml.llm.runtime import close_runtime

    await close_runtime(hub)


def hub_metrics(register):
    from plugins.ml.llm.metrics import register_metrics

    register_metrics(register)
