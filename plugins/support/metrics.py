"""Support's analytics metrics (`hub_metrics`, served by the analytics plugin): tickets by status,
priority and category, and SLA breaches."""

from __future__ import annotations

from plugins.support.models import Ticket

DIMENSIONS = {"status": "Status", "priority": "Priority", "category": "Category"}


def register_metrics(register) -> None:
    register("tickets", "Tickets", model=Ticket, dimensions=DIMENSIONS, description="Tickets opened in the period")
    register("sla_breaches", "SLA breaches", model=Ticket, dimensions=DIMENSIONS,
             where_any=[{"first_response_breached_at": {"not": None}}, {"resolution_breached_at": {"not": None}}],
             description="Tickets opened in the period that missed their first-response or resolution time")
    register("first_response_breaches", "First-response breaches", model=Ticket, time="first_response_breached_at",
             where={"first_response_breached_at": {"not": None}}, dimensions=DIMENSIONS,
             description="First-response SLA breaches, by when they happened")
    register("resolution_breaches", "Resolution breaches", model=Ticket, time="resolution_breached_at",
             where={"resolution_breached_at": {"not": None}}, dimensions=DIMENSIONS,
             description="Resolution SLA breaches, by when they happened")
    register("sla_breach_rate", "SLA breach rate", aggregate="ratio", numerator="sla_breaches", denominator="tickets",
             format="percent", description="Tickets that missed an SLA / tickets opened")
