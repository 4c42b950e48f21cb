"""The recommender's analytics metrics (`hub_metrics`, served by the analytics plugin; the
plugin's Prometheus metrics are metrics.py): recommendations served (the metered unit
`recommendations_served`), interactions, and the click-through rate (clicks / recommendations)."""

from __future__ import annotations

from core import UsageCounter
from plugins.ml.recommender.models import Interaction

SERVED = "recommendations_served"


def register_metrics(register) -> None:
    register("recommendations_served", "Recommendations served", model=UsageCounter, aggregate="sum",
             value="value", time="day", where={"metric": SERVED},
             description="Items returned by the recommendations API, per day")
    register("interactions", "Interactions", model=Interaction, time="occurred_at",
             dimensions={"interaction_type": "Interaction type"}, description="Interactions tracked in the period")
    register("clicks", "Clicks", model=Interaction, time="occurred_at", where={"interaction_type": "click"},
             description="Click interactions in the period")
    register("active_users", "Active users", model=Interaction, aggregate="count_distinct", value="user_id",
             time="occurred_at", dimensions={"interaction_type": "Interaction type"},
             description="Distinct users with an interaction in the period")
    register("click_through_rate", "Click-through rate", aggregate="ratio", numerator="clicks",
             denominator="recommendations_served", format="percent",
             description="Clicks / recommendations served in the period")
