"""LLM-callable recommender functions (hub_functions). Arguments are validated with the same
field rules as the HTTP API; each runs with the caller's organization and permissions."""

from __future__ import annotations

from pydantic import BaseModel, Field

from plugins.ml.recommender import service
from plugins.ml.recommender.schemas import (
    Category,
    InteractionRecord,
    InteractionType,
    PublicRecommendationRequest,
    RecommendationFilters,
    RecordId,
    TrainingConfig,
)


class RecommendItemsArgs(BaseModel):
    user_id: RecordId = Field(description="The tenant's id of the user to recommend for")
    count: int = Field(default=10, ge=1, le=50, description="How many items")
    categories: list[Category] = Field(default_factory=list, max_length=20,
                                       description="Only items of these categories (empty: any)")


class TrackInteractionArgs(BaseModel):
    user_id: RecordId
    item_id: RecordId
    interaction_type: InteractionType = Field(description="view, click, purchase, like, dislike, add_to_cart "
                                                          "or remove_from_cart")


async def recommend_items(ctx, args: RecommendItemsArgs) -> dict:
    request = PublicRecommendationRequest(
        user_id=args.user_id, count=args.count, filters=RecommendationFilters(categories=args.categories))
    result = await service.recommend(ctx.org_id, request)
    return {"recommendations": [{"item_id": r["item_id"], "score": r["score"], "category": r["metadata"]["category"]}
                                for r in result["recommendations"]],
            "model_version": result["model_version"], "fallback": result["fallback"]}


async def track_interaction(ctx, args: TrackInteractionArgs) -> dict:
    record = InteractionRecord(user_id=args.user_id, item_id=args.item_id, interaction_type=args.interaction_type)
    return await service.track_interaction(ctx.org_id, record)


class TrainRecommenderArgs(BaseModel):
    training_config: TrainingConfig = Field(default_factory=TrainingConfig,
                                            description="model type, hyperparameters, data range (defaults: the tenant's)")


async def train_recommender(ctx, args: TrainRecommenderArgs) -> dict:
    """Start training a new model version (a background job); it serves once trained."""
    return await service.trigger_training(ctx.org_id, ctx.user_id, args.training_config)


FUNCTIONS = (
    ("recommend_items", "Recommend catalog items to a user, optionally only from some categories",
     RecommendItemsArgs, "recommender.recommend", recommend_items),
    ("track_interaction", "Record that a user viewed, clicked, bought, liked or disliked an item",
     TrackInteractionArgs, "recommender.interactions.write", track_interaction),
    ("train_recommender", "Train a new recommendation model on the interactions so far (a background job)",
     TrainRecommenderArgs, "recommender.train", train_recommender),
)
