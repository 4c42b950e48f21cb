"""The templates every organization starts with (installed at start-up, public, read-only).
`{{ params.x }}` is a template parameter, put in when the template is instantiated; every other
`{{ }}` is an expression evaluated when the workflow runs."""

from __future__ import annotations


def _node(node_id: str, kind: str, title: str, config: dict, x: int, **extra) -> dict:
    return {"id": node_id, "type": kind, "title": title, "config": config, "position": {"x": x, "y": 0}, **extra}


def _edge(source: str, target: str, source_port: str = "main") -> dict:
    return {"id": f"{source}-{target}", "source_node_id": source, "source_port": source_port,
            "target_node_id": target, "target_port": "main"}


HTTPS_URL = {"rule": "pattern", "value": r"https://\S+", "message": "an https:// URL"}

BUILT_IN_TEMPLATES = [
    {
        "name": "Qualify new leads with AI",
        "description": "A new lead arrives by webhook, is created in the CRM, the local model rates it, a hot "
                       "lead is marked qualified and a chat channel is told.",
        "category": "sales", "tags": ["crm", "ai", "leads"],
        "parameters": [
            {"name": "notify_url", "type": "string", "label": "Incoming-webhook URL to notify (Slack, Teams...)",
             "required": True, "validation": [HTTPS_URL]},
            {"name": "criteria", "type": "string", "label": "What makes a lead hot",
             "default_value": "a company with a budget and a need this quarter",
             "validation": [{"rule": "max_length", "value": 500}]},
        ],
        "definition": {
            "nodes": [
                _node("lead", "webhook-trigger", "New lead", {}, 0),
                _node("create", "function-call", "Create the lead",
                      {"function": "create_lead", "arguments": {
                          "name": "{{ input.name }}", "email": "{{ input.email }}", "company": "{{ input.company }}",
                          "notes": "{{ input.notes }}", "source": "website"}}, 200),
                _node("rate", "ai-text-processing", "Rate it",
                      {"instruction": "Hot means {{ params.criteria }}. Answer with one word: hot or cold.",
                       "prompt": "{{ input.name }} from {{ input.company }}: {{ input.notes }}", "max_tokens": 4}, 400),
                _node("hot", "decision-logic", "Hot?", {"condition": "{{ 'hot' in lower(input.text) }}"}, 600),
                _node("qualify", "function-call", "Mark qualified",
                      {"function": "update_lead_status",
                       "arguments": {"lead_id": "{{ steps.create.output.id }}", "status": "qualified"}}, 800),
                _node("notify", "api-integration", "Tell the team",
                      {"url": "{{ params.notify_url }}", "method": "POST",
                       "body": {"text": "Hot lead: {{ steps.create.output.name }} ({{ steps.create.output.company }})"}},
                      1000, settings={"retries": 2, "retry_backoff_seconds": 5}),
            ],
            "edges": [_edge("lead", "create"), _edge("create", "rate"), _edge("rate", "hot"),
                      _edge("hot", "qualify", "true"), _edge("qualify", "notify")],
        },
    },
    {
        "name": "Forward a webhook to an API",
        "description": "Receive a webhook, reshape its payload and send it to another HTTP API.",
        "category": "integration", "tags": ["webhook", "http"],
        "parameters": [
            {"name": "target_url", "type": "string", "label": "Where to send it", "required": True,
             "validation": [HTTPS_URL]},
            {"name": "method", "type": "select", "label": "HTTP method", "default_value": "POST",
             "options": [{"value": "POST", "label": "POST"}, {"value": "PUT", "label": "PUT"},
                         {"value": "PATCH", "label": "PATCH"}]},
        ],
        "definition": {
            "nodes": [
                _node("hook", "webhook-trigger", "Webhook", {}, 0),
                _node("shape", "data-transformation", "Reshape",
                      {"mapping": {"event": "{{ input.type }}", "data": "{{ input }}", "received_by": "the Hub"}}, 200),
                _node("send", "api-integration", "Send",
                      {"url": "{{ params.target_url }}", "method": "{{ params.method }}", "body": "{{ input }}"}, 400,
                      settings={"retries": 3, "retry_backoff_seconds": 2}),
            ],
            "edges": [_edge("hook", "shape"), _edge("shape", "send")],
        },
    },
    {
        "name": "Retrain the recommender nightly",
        "description": "Every night, train a new recommendation model on the day's interactions; it serves once trained.",
        "category": "machine-learning", "tags": ["recommender", "schedule"],
        "parameters": [
            {"name": "cron", "type": "string", "label": "When (cron)", "default_value": "0 3 * * *",
             "validation": [{"rule": "max_length", "value": 100}]},
            {"name": "timezone", "type": "string", "label": "Time zone", "default_value": "UTC",
             "validation": [{"rule": "max_length", "value": 64}]},
        ],
        "definition": {
            "nodes": [
                _node("nightly", "schedule-trigger", "Nightly", {"cron": "{{ params.cron }}", "timezone": "{{ params.timezone }}"}, 0),
                _node("train", "function-call", "Train", {"function": "train_recommender", "arguments": {}}, 200),
                _node("report", "output-formatter", "Report", {"format": "json", "fields": ["job_id", "status"]}, 400),
            ],
            "edges": [_edge("nightly", "train"), _edge("train", "report")],
        },
    },
    {
        "name": "Lead intake form",
        "description": "A form's answers become a CRM lead; the answer says who was added.",
        "category": "sales", "tags": ["crm", "form"],
        "parameters": [
            {"name": "source", "type": "select", "label": "Lead source", "default_value": "website",
             "options": [{"value": v, "label": v.title()} for v in ("website", "referral", "event", "social")]},
        ],
        "definition": {
            "nodes": [
                _node("form", "form-input", "Form", {"fields": [
                    {"name": "name", "type": "string", "required": True}, {"name": "email", "type": "string"},
                    {"name": "company", "type": "string"}, {"name": "notes", "type": "string"}]}, 0),
                _node("create", "function-call", "Create the lead", {"function": "create_lead", "arguments": {
                    "name": "{{ input.name }}", "email": "{{ input.email }}", "company": "{{ input.company }}",
                    "notes": "{{ input.notes }}", "source": "{{ params.source }}"}}, 200),
                _node("answer", "output-formatter", "Answer",
                      {"format": "text", "template": "{{ input.name }} was added as a lead"}, 400),
            ],
            "edges": [_edge("form", "create"), _edge("create", "answer")],
        },
    },
    {
        "name": "Summarize a text",
        "description": "Send a text by webhook; the local model summarizes it.",
        "category": "ai", "tags": ["ai", "text"],
        "parameters": [
            {"name": "sentences", "type": "number", "label": "Sentences in the summary", "default_value": 2,
             "validation": [{"rule": "min", "value": 1}, {"rule": "max", "value": 10}]},
        ],
        "definition": {
            "nodes": [
                _node("text", "webhook-trigger", "Text", {}, 0),
                _node("summarize", "ai-text-processing", "Summarize",
                      {"instruction": "Summarize the user's text in {{ params.sentences }} sentences.",
                       "prompt": "{{ input.text }}", "max_tokens": 200}, 200),
                _node("answer", "output-formatter", "Answer", {"format": "text", "template": "{{ input.text }}"}, 400),
            ],
            "edges": [_edge("text", "summarize"), _edge("summarize", "answer")],
        },
    },
]
