from pydantic import BaseModel, Field

from hub_example_plugin.models import ExampleNote


class CountNotesArgs(BaseModel):
    word: str = Field(min_length=1, max_length=50)


async def count_notes(ctx, args: CountNotesArgs) -> dict:
    count = await ExampleNote.for_org(ctx.org_id).filter(text__icontains=args.word).count()
    return {"word": args.word, "count": count}
