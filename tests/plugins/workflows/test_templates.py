"""Templates: built-ins, publishing, who sees and changes which, parameters, instantiation, reviews."""

from __future__ import annotations

import pytest

from tests.plugins.workflows.support import edge, node, transform

GREETING = {
    "name": "Greeter", "category": "demo", "tags": ["hello"],
    "parameters": [
        {"name": "greeting", "type": "string", "label": "Greeting", "required": True,
         "validation": [{"rule": "min_length", "value": 2}, {"rule": "max_length", "value": 20}]},
        {"name": "times", "type": "number", "label": "Times", "default_value": 1,
         "validation": [{"rule": "min", "value": 1}, {"rule": "max", "value": 3}]},
        {"name": "tone", "type": "select", "label": "Tone", "default_value": "warm",
         "options": [{"value": "warm", "label": "Warm"}, {"value": "cool", "label": "Cool"}]},
    ],
    "definition": {
        "nodes": [node("start", "webhook-trigger"),
                  transform("say", {"text": "{{ params.greeting }}, {{ input.name }}!", "times": "{{ params.times }}",
                                    "tone": "{{ params.tone }}"})],
        "edges": [edge("start", "say")],
    },
}


async def test_the_built_in_templates_are_there_for_everyone_and_read_only(api, other_api):
    listed = await api.get("/api/templates?public_only=true&limit=50")
    built_in = {t["name"]: t for t in listed["templates"] if t["built_in"]}
    assert len(built_in) >= 5 and "Qualify new leads with AI" in built_in
    assert {t["name"] for t in (await other_api.get("/api/templates?limit=50"))["templates"] if t["built_in"]} == set(built_in)
    some = built_in["Forward a webhook to an API"]
    await api.error("PUT", f"/api/templates/{some['id']}", GREETING, status=403, code="FORBIDDEN")
    await api.error("DELETE", f"/api/templates/{some['id']}", status=403, code="FORBIDDEN")


@pytest.mark.parametrize("name, parameters", [
    ("Qualify new leads with AI", {"notify_url": "https://chat.example.com/hooks/1"}),
    ("Forward a webhook to an API", {"target_url": "https://api.example.com/in", "method": "PUT"}),
    ("Retrain the recommender nightly", {}),
    ("Lead intake form", {"source": "event"}),
    ("Summarize a text", {"sentences": 3}),
])
async def test_every_built_in_template_makes_a_valid_workflow(api, name, parameters):
    template = next(t for t in (await api.get("/api/templates?public_only=true&limit=50"))["templates"]
                    if t["name"] == name)
    workflow = await api.post(f"/api/templates/{template['id']}/instantiate", {"parameters": parameters})
    assert workflow["name"] == name and workflow["version"] == 1 and workflow["nodes"]
    text = str(workflow)
    assert "params." not in text  # every parameter was put in
    for value in parameters.values():
        assert str(value) in text


async def test_lead_intake_template_runs_end_to_end(api):
    template = next(t for t in (await api.get("/api/templates?search=intake"))["templates"] if t["built_in"])
    workflow = await api.post(f"/api/templates/{template['id']}/instantiate", {"name": "Intake"})
    execution = await api.run(workflow["id"], {"name": "Ada Lovelace", "email": "ada@example.com"})
    assert execution["status"] == "completed", execution
    assert execution["output_data"] == {"answer": {"text": "Ada Lovelace was added as a lead"}}
    leads = (await api.get("/api/leads?search=Lovelace"))["leads"]
    assert [(lead["name"], lead["source"]) for lead in leads] == [("Ada Lovelace", "website")]


async def test_publish_instantiate_and_count_uses(api):
    template = await api.post("/api/templates", GREETING)
    assert template["built_in"] is False and template["organization_id"] == api.org_id and template["usage_count"] == 0
    workflow = await api.post(f"/api/templates/{template['id']}/instantiate",
                              {"name": "Hello", "parameters": {"greeting": "Hello", "times": 2}})
    say = next(n for n in workflow["nodes"] if n["id"] == "say")
    assert say["config"]["mapping"] == {"text": "Hello, {{ input.name }}!", "times": 2, "tone": "warm"}
    execution = await api.run(workflow["id"], {"name": "Ada"})
    assert execution["output_data"] == {"say": {"text": "Hello, Ada!", "times": 2, "tone": "warm"}}
    assert (await api.get(f"/api/templates/{template['id']}"))["usage_count"] == 1


@pytest.mark.parametrize("parameters, field, reason", [
    ({}, "parameters.greeting", "required"),
    ({"greeting": "H"}, "parameters.greeting", "at least 2 characters"),
    ({"greeting": "Hello", "times": 9}, "parameters.times", "at most 3"),
    ({"greeting": "Hello", "times": "2"}, "parameters.times", "must be a number"),
    ({"greeting": "Hello", "tone": "loud"}, "parameters.tone", "must be one of"),
    ({"greeting": "Hello", "volume": 11}, "parameters.volume", "no such parameter"),
])
async def test_parameters_are_checked_against_their_rules(api, parameters, field, reason):
    template = await api.post("/api/templates", GREETING)
    error = await api.error("POST", f"/api/templates/{template['id']}/instantiate", {"parameters": parameters},
                            status=400, code="VALIDATION_ERROR")
    assert any(p["field"] == field and reason in p["reason"] for p in error["details"]["problems"]), error
    assert (await api.get("/api/workflows"))["workflows"] == []
    assert (await api.get(f"/api/templates/{template['id']}"))["usage_count"] == 0


async def test_a_template_using_an_undeclared_parameter_is_refused(api):
    broken = {**GREETING, "parameters": GREETING["parameters"][1:]}  # no `greeting`
    await api.error("POST", "/api/templates", broken, status=400, code="VALIDATION_ERROR", field="definition")


async def test_private_templates_stay_home_and_public_ones_are_seen_but_not_changed(api, other_api):
    private = await api.post("/api/templates", GREETING)
    public = await api.post("/api/templates", {**GREETING, "name": "Shared greeter", "is_public": True})
    theirs = {t["id"]: t for t in (await other_api.get("/api/templates?limit=100"))["templates"]}
    assert public["id"] in theirs and private["id"] not in theirs
    assert theirs[public["id"]]["organization_id"] is None and theirs[public["id"]]["created_by"] is None  # anonymous
    await other_api.error("GET", f"/api/templates/{private['id']}", status=404, code="NOT_FOUND")
    await other_api.error("PUT", f"/api/templates/{private['id']}", GREETING, status=404, code="NOT_FOUND")
    await other_api.error("PUT", f"/api/templates/{public['id']}", GREETING, status=403, code="FORBIDDEN")
    await other_api.error("DELETE", f"/api/templates/{public['id']}", status=403, code="FORBIDDEN")
    made = await other_api.post(f"/api/templates/{public['id']}/instantiate", {"parameters": {"greeting": "Hey"}})
    assert made["organization_id"] == other_api.org_id
    changed = await api.put(f"/api/templates/{public['id']}", {**GREETING, "name": "Renamed", "is_public": True})
    assert changed["name"] == "Renamed" and changed["version"] == 2
    await api.delete(f"/api/templates/{private['id']}")
    gone = await api.error("GET", f"/api/templates/{private['id']}", status=404, code="NOT_FOUND")
    assert gone["details"] == {"seed_code": "TPL_001"}  # seed 001's TEMPLATE_NOT_FOUND


async def test_reviews_one_per_user_and_the_average(api, api_of, other_api):
    template = await api.post("/api/templates", {**GREETING, "is_public": True})
    first = await api.post(f"/api/templates/{template['id']}/reviews", {"rating": 5, "comment": "Great"})
    assert first["rating"] == 5 and [r["rating"] for r in first["reviews"]] == [5]
    member = await api_of(role="member")
    await member.post(f"/api/templates/{template['id']}/reviews", {"rating": 2})
    await other_api.post(f"/api/templates/{template['id']}/reviews", {"rating": 2})
    again = await api.call("POST", f"/api/templates/{template['id']}/reviews", {"rating": 3}, status=200)
    assert again["rating"] == round((3 + 2 + 2) / 3, 2) and len(again["reviews"]) == 3
    # reviewers of another organization are not named to this one, nor this one's to them
    assert sorted(str(r["user_id"]) for r in again["reviews"]) == sorted([api.account.user_id, member.account.user_id, "None"])
    theirs = await other_api.get(f"/api/templates/{template['id']}")
    assert [r["user_id"] for r in theirs["reviews"] if r["user_id"]] == [other_api.account.user_id]
    for rating in (0, 6):
        await api.error("POST", f"/api/templates/{template['id']}/reviews", {"rating": rating}, status=400,
                        code="VALIDATION_ERROR", field="rating")


async def test_a_pathological_pattern_cannot_stall_the_server(api):
    evil = {**GREETING, "parameters": [{**GREETING["parameters"][0], "validation": [
        {"rule": "pattern", "value": "(a+)+$"}]}] + GREETING["parameters"][1:]}
    template = await api.post("/api/templates", evil)
    error = await api.error("POST", f"/api/templates/{template['id']}/instantiate",
                            {"parameters": {"greeting": "a" * 5000 + "!"}}, status=400, code="VALIDATION_ERROR")
    assert "takes too long" in error["details"]["problems"][0]["reason"]
    bad = {**GREETING, "parameters": [{**GREETING["parameters"][0], "validation": [{"rule": "pattern", "value": "(["}]}] + GREETING["parameters"][1:]}
    await api.error("POST", "/api/templates", bad, status=400, code="VALIDATION_ERROR",
                    field="parameters.greeting.validation")


async def test_built_ins_install_safely_when_processes_start_at_once(hub):
    """`hub serve --workers N`: every worker installs the built-ins at start-up, at the same time."""
    import asyncio

    from plugins.workflows.models import WorkflowTemplate
    from plugins.workflows.templates import install_built_ins

    await WorkflowTemplate.filter(org_id=None).delete()
    await asyncio.gather(*(install_built_ins(hub) for _ in range(4)))
    assert await WorkflowTemplate.filter(org_id=None).count() == 5
