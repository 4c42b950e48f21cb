"""The CRM's analytics metrics (`hub_metrics`, served by the analytics plugin): leads by status,
source and period, the conversion rate, the pipeline value and messages."""

from __future__ import annotations

from plugins.crm.models import Lead, Message

LEAD_DIMENSIONS = {"status": "Status", "source": "Source"}


def register_metrics(register) -> None:
    register("leads", "Leads", model=Lead, dimensions=LEAD_DIMENSIONS,
             description="Leads created in the period")
    register("converted_leads", "Converted leads", model=Lead, where={"status": "converted"},
             dimensions={"source": "Source"}, description="Leads created in the period that are converted now")
    register("conversion_rate", "Conversion rate", aggregate="ratio", numerator="converted_leads",
             denominator="leads", format="percent", description="Converted leads / leads created in the period")
    register("pipeline_value", "Pipeline value", model=Lead, aggregate="sum", value="value",
             where={"status": {"not": ["converted", "lost"]}}, dimensions=LEAD_DIMENSIONS, format="currency",
             description="Value of the open leads (not converted or lost) created in the period")
    register("lead_value", "Lead value", model=Lead, aggregate="sum", value="value", dimensions=LEAD_DIMENSIONS,
             format="currency", description="Value of every lead created in the period")
    register("average_lead_value", "Average lead value", model=Lead, aggregate="average", value="value",
             dimensions=LEAD_DIMENSIONS, format="currency", description="Mean value of the leads created")
    register("messages", "Messages", model=Message, dimensions={"sender": "Sender", "status": "Status"},
             description="Messages exchanged with leads in the period")
    register("conversations", "Conversations", model=Message, aggregate="count_distinct", value="lead_id",
             dimensions={"sender": "Sender"}, description="Leads with at least one message in the period")
