"""The reference for bench/core_requests.py: a bare Quart route with no Hub around it."""

from quart import Quart

app = Quart("bare")
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(5)]


@app.get("/items")
async def items():
    return {"items": ITEMS, "total": len(ITEMS)}
