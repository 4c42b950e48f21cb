from tests.helpers import assert_error


async def test_lead_lifecycle(client, admin):
    created = await client.post("/api/leads", headers=admin.headers, json={
        "name": "Jane Doe", "email": "jane@example.com", "phone": "+1987654321", "company": "Tech Startup",
        "source": "referral", "value": 10000, "notes": "High priority prospect"})
    body = await created.get_json()
    assert created.status_code == 201, body
    assert body["status"] == "new" and body["createdAt"].endswith("Z")
    listed = await (await client.get("/api/leads?status=new", headers=admin.headers)).get_json()
    assert listed["total"] == 1 and listed["pagination"] == {"limit": 50, "offset": 0, "hasMore": False}
    bad = await client.put(f"/api/leads/{body['id']}", headers=admin.headers, json={"status": "converted"})
    assert_error(bad.status_code, await bad.get_json(), 400, "VALIDATION_ERROR")
    ok = await client.put(f"/api/leads/{body['id']}", headers=admin.headers, json={"status": "qualified"})
    assert (await ok.get_json())["status"] == "qualified"
    sent = await client.post("/api/messages", headers=admin.headers, json={"leadId": body["id"], "content": "hi"})
    assert sent.status_code == 201, await sent.get_json()
    got = await client.post("/api/messages", headers=admin.headers,
                            json={"leadId": body["id"], "content": "hello back", "sender": "lead"})
    assert got.status_code == 201
    conversations = await (await client.get("/api/conversations", headers=admin.headers)).get_json()
    assert conversations["conversations"][0]["unreadCount"] == 1
    messages = await (await client.get(f"/api/messages/{body['id']}", headers=admin.headers)).get_json()
    assert [m["content"] for m in messages["messages"]] == ["hi", "hello back"]
    conversations = await (await client.get("/api/conversations", headers=admin.headers)).get_json()
    assert conversations["conversations"][0]["unreadCount"] == 0
    dash = await (await client.get("/api/analytics/dashboard", headers=admin.headers)).get_json()
    assert dash["summary"]["totalLeads"] == 1 and dash["sourceBreakdown"] == {"referral": 100.0}
    ach = await (await client.get("/api/achievements", headers=admin.headers)).get_json()
    unlocked = {a["id"] for a in ach["achievements"] if a["unlockedAt"]}
    assert unlocked == {"first_lead", "first_contact"}, ach


async def test_contacts_search_and_tags(client, admin):
    for name, company, tags in [("Alice Johnson", "Innovation Inc", ["cto", "technical"]),
                                ("Bob Wilson", "AI Startup", ["founder"])]:
        r = await client.post("/api/contacts", headers=admin.headers,
                              json={"name": name, "company": company, "tags": tags, "email": f"{name[:3]}@x.io"})
        assert r.status_code == 201, await r.get_json()
    found = await (await client.get("/api/contacts?search=innov", headers=admin.headers)).get_json()
    assert [c["name"] for c in found["contacts"]] == ["Alice Johnson"]
    tagged = await (await client.get("/api/contacts?tags=founder", headers=admin.headers)).get_json()
    assert [c["name"] for c in tagged["contacts"]] == ["Bob Wilson"]
    sorted_ = await (await client.get("/api/contacts?sort=name&order=desc", headers=admin.headers)).get_json()
    assert [c["name"] for c in sorted_["contacts"]] == ["Bob Wilson", "Alice Johnson"]
