"""The peer of bench/request_path.py: what a user would write instead of the Hub for
GET /api/leads, with FastAPI + uvicorn, PyJWT and SQLAlchemy async.

It verifies the Hub's HS256 access token (same secret; `sub`, `org_id` and `exp` required and
checked), reads the organization's leads from the Hub's own database (the same SQLite file or
PostgreSQL database) with the total count, newest first (created_at desc, id desc), selecting
the columns it answers with (rows, not ORM objects: the Hub reads `.values()` dicts too), and
answers the Hub's JSON body: {"leads": [...], "total": n, "pagination": {"limit", "offset", "hasMore"}}
through a response model (FastAPI validates and serializes it with pydantic).
It does not look the user up, nor check revocation, rate limits or quotas: the Hub does.

    PEER_DATABASE_URL=sqlite+aiosqlite:////tmp/x/hub.sqlite3 PEER_JWT_SECRET=... \\
        .venv/bin/python -m uvicorn bench.peers.fastapi_peer:app --port 8002 --loop asyncio --http h11
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text, Uuid, func, select
from sqlalchemy.ext.asyncio import create_async_engine

DATABASE_URL = os.environ["PEER_DATABASE_URL"]  # sqlite+aiosqlite:///... or postgresql+asyncpg://...
SECRET = os.environ["PEER_JWT_SECRET"]
SQLITE = DATABASE_URL.startswith("sqlite")
# tortoise keeps UUIDs on SQLite as CHAR(36) text with dashes, on PostgreSQL as uuid: read as str
ID = String(36) if SQLITE else Uuid(as_uuid=False)

leads_table = Table(
    "crm_lead", MetaData(),
    Column("id", ID, primary_key=True), Column("org_id", ID), Column("name", String(200)),
    Column("email", String(254)), Column("phone", String(32)), Column("company", String(200)),
    Column("company_id", ID), Column("status", String(16)), Column("source", String(32)),
    Column("value", Float), Column("notes", Text),
    Column("created_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True)),
)
COLUMNS = [leads_table.c[name] for name in ("id", "name", "email", "phone", "company", "company_id", "status",
                                             "source", "value", "notes", "created_at", "updated_at")]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LeadOut(CamelModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    company_id: str | None
    status: str
    source: str
    value: float
    notes: str | None
    created_at: str
    updated_at: str


class Pagination(CamelModel):
    limit: int
    offset: int
    has_more: bool


class LeadList(BaseModel):
    leads: list[LeadOut]
    total: int
    pagination: Pagination


# On SQLite one connection, as tortoise has (SQLAlchemy's default pool would open up to 15, each
# with an aiosqlite thread contending for the GIL: ~25% more CPU per request here).
engine = create_async_engine(DATABASE_URL, **({"pool_size": 1, "max_overflow": 0} if SQLITE else {}))
app = FastAPI()


def iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite gives naive datetimes: tortoise stores UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def claims(authorization: Annotated[str | None, Header()] = None) -> dict:
    # `async def`: FastAPI would run a plain `def` dependency in a worker thread on every request
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "Authentication required")
    try:
        return jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["sub", "org_id", "exp"]})
    except jwt.PyJWTError:
        raise HTTPException(401, "Invalid access token") from None


@app.get("/api/leads", response_model=LeadList)
async def list_leads(token: Annotated[dict, Depends(claims)],
                     limit: Annotated[int, Query(ge=1)] = 50, offset: Annotated[int, Query(ge=0)] = 0):
    limit = min(limit, 100)
    try:
        org_id = str(uuid.UUID(token["org_id"]))
    except ValueError:
        raise HTTPException(401, "Invalid access token") from None
    mine = leads_table.c.org_id == org_id
    async with engine.connect() as connection:
        total = await connection.scalar(select(func.count()).select_from(leads_table).where(mine))
        rows = await connection.execute(
            select(*COLUMNS).where(mine).order_by(leads_table.c.created_at.desc(), leads_table.c.id.desc())
            .offset(offset).limit(limit))
        leads = [
            {"id": row.id, "name": row.name, "email": row.email, "phone": row.phone, "company": row.company,
             "companyId": row.company_id, "status": row.status, "source": row.source, "value": row.value,
             "notes": row.notes, "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at)}
            for row in rows
        ]
    return {"leads": leads, "total": total, "pagination": {"limit": limit, "offset": offset, "hasMore": offset + limit < total}}
