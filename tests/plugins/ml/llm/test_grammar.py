"""The grammar builder alone: many schemas -> grammars that llama.cpp compiles, whose language
(checked by translating the emitted GBNF to a Python regex) holds valid calls and refuses
invalid or unbounded ones, and whose outputs sampled from the real model validate."""

from __future__ import annotations

import datetime
import enum
import json
import re
import uuid
from typing import Literal, Optional

import pytest
from pydantic import BaseModel, EmailStr, Field, HttpUrl

from plugins.ml.llm import grammar as g
from plugins.ml.llm.prompts import XLAM_SHAPE, XML_SHAPE

# -- GBNF -> Python regex (our grammars are not recursive, so this is exact) ----------------------

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def gbnf_regex(gbnf: str) -> re.Pattern:
    rules = dict(line.split(" ::= ", 1) for line in gbnf.strip().splitlines())

    def translate(body: str) -> str:
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == '"':
                i += 1
                text = []
                while body[i] != '"':
                    if body[i] == "\\":
                        if body[i + 1] == "x":
                            text.append(chr(int(body[i + 2:i + 4], 16)))
                            i += 4
                            continue
                        text.append(_ESCAPES[body[i + 1]])
                        i += 2
                        continue
                    text.append(body[i])
                    i += 1
                out.append(re.escape("".join(text)))
                i += 1
            elif ch == "[":
                j = i + 1
                while body[j] != "]":
                    j += 2 if body[j] == "\\" else 1
                out.append(body[i:j + 1])
                i = j + 1
            elif ch == "{":
                j = body.index("}", i)
                out.append(body[i:j + 1])
                i = j + 1
            elif ch in "()|?*+":
                out.append("(?:" if ch == "(" else ch)
                i += 1
            elif ch.isspace():
                i += 1
            else:
                name = re.match(r"[a-z][a-z0-9-]*", body[i:]).group(0)
                out.append("(?:" + translate(rules[name]) + ")")
                i += len(name)
        return "".join(out)

    return re.compile(translate(rules["root"]), re.DOTALL)


def call_text(shape, name: str, arguments: dict) -> str:
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False, separators=(",", ":"))
    return shape.prefix + body + shape.suffix


def tool(name: str, model: type[BaseModel] | dict, description: str = "") -> dict:
    parameters = model if isinstance(model, dict) else model.model_json_schema()
    return {"type": "function", "function": {"name": name, "description": description or name,
                                             "parameters": parameters}}


# -- schemas with the features pydantic emits -------------------------------------------------------


class Color(str, enum.Enum):
    red = "red"
    green = "green"


class Address(BaseModel):
    street: str = Field(min_length=1, max_length=40)
    city: str
    zip: Optional[str] = Field(None, pattern=r"^[0-9]{5}$")


class Contact(BaseModel):
    name: str = Field(min_length=1, max_length=50, description="Full name")
    email: EmailStr | None = None
    age: int | None = Field(None, ge=0, le=130)


class Order(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]{3}-\d{4}$")
    quantity: int = Field(ge=1, le=99)
    price: float = Field(gt=0, le=10_000)
    color: Color = Color.red
    gift: bool = False


class Meeting(BaseModel):
    title: str
    day: datetime.date
    starts_at: datetime.datetime | None = None
    attendees: list[EmailStr] = Field(default_factory=list, max_length=3)
    room: Literal["small", "large"] | None = None


class Shipment(BaseModel):
    address: Address
    parcels: list[Address] = Field(default_factory=list)
    tracking: uuid.UUID | None = None
    dimensions: tuple[int, int, int]
    labels: set[str] = set()
    metadata: dict[str, int] = {}


class Search(BaseModel):
    query: str = Field(min_length=1, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=10)
    limit: int = Field(10, ge=1, le=50)
    score: float | None = None


class Website(BaseModel):
    url: HttpUrl
    note: str = Field("", max_length=10_000)


class Nothing(BaseModel):
    pass


SCHEMAS = [Contact, Order, Meeting, Shipment, Search, Website, Address, Nothing]


# -- integer ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lo,hi", [(0, 0), (0, 9), (1, 50), (-5, 123), (7, 7), (10, 99), (95, 1203),
                                   (-130, -12), (0, 10**6), (-999, 999)])
def test_integer_ranges_are_exact(lo, hi):
    expr, length = g.integer_range(lo, hi)
    pattern = gbnf_regex(f"root ::= {expr}")
    probes = set(range(lo - 30, lo + 30)) | set(range(hi - 30, hi + 30)) | {0, 1, -1, 10, 100, 1000}
    for number in probes:
        assert bool(pattern.fullmatch(str(number))) == (lo <= number <= hi), (lo, hi, number)
    assert not pattern.fullmatch("007") and length == max(len(str(lo)), len(str(hi)))


# -- the language of tool grammars ------------------------------------------------------------------

VALID_EXAMPLES = {
    Contact: {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36},
    Order: {"sku": "ABC-1234", "quantity": 3, "price": 12, "color": "green", "gift": True},
    Meeting: {"title": "Kickoff", "day": "2024-05-17", "attendees": ["bo@acme.io"], "room": "large"},
    Shipment: {"address": {"street": "Main St 1", "city": "Oslo"}, "dimensions": [1, 2, 3],
               "tracking": "12345678-1234-4234-8234-123456789abc", "metadata": {"kg": 2}},
    Search: {"query": "pumps", "tags": ["b2b"], "limit": 5, "score": -1.25},
    Website: {"url": "https://acme.com/about"},
    Address: {"street": "Elm 2", "city": "Rome", "zip": "00100"},
    Nothing: {},
}

INVALID_EXAMPLES = {
    Contact: [{"name": ""}, {"name": "x" * 51}, {"name": "A", "age": 131}, {"name": "A", "email": "not-an-email"},
              {"email": "a@b.com"}],
    Order: [{"sku": "abc-1234", "quantity": 1, "price": 1}, {"sku": "ABC-1234", "quantity": 100, "price": 1},
            {"sku": "ABC-1234", "quantity": 1, "price": 0}, {"sku": "ABC-1234", "quantity": 1, "price": 1,
                                                            "color": "blue"}],
    Meeting: [{"title": "x", "day": "2024-13-01"}, {"title": "x", "day": "2024-01-01", "room": "medium"}],
    Search: [{"query": "q", "limit": 0}],
}
# Valid for the schema, but the grammar is stricter: no extra properties, no leading blank
# (a `strip_whitespace` field with min_length would fail on "   ").
GRAMMAR_REFUSES = {Contact: [{"name": "A", "extra": 1}], Search: [{"query": " leading blank"}]}


@pytest.mark.parametrize("model", SCHEMAS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("shape", [XML_SHAPE, XLAM_SHAPE], ids=["xml", "xlam"])
def test_grammar_admits_valid_calls_and_refuses_invalid_ones(model, shape):
    tools = [tool("target", model), tool("other", Search)]
    built = g.build_tool_grammar(tools, "target", shape, max_tokens=1024)
    assert built.fits and built.max_call_chars <= 1024
    pattern = gbnf_regex(built.gbnf)
    example = VALID_EXAMPLES[model]
    model.model_validate(example)  # the example itself is valid
    assert pattern.fullmatch(call_text(shape, "target", example)), built.gbnf
    assert not pattern.fullmatch(call_text(shape, "other", VALID_EXAMPLES[Search]))  # named: only that tool
    for bad in INVALID_EXAMPLES.get(model, []) + GRAMMAR_REFUSES.get(model, []):
        assert not pattern.fullmatch(call_text(shape, "target", bad)), bad


def test_required_is_a_union_and_auto_also_allows_text():
    tools = [tool("contact", Contact), tool("search", Search)]
    required = gbnf_regex(g.build_tool_grammar(tools, "required", XML_SHAPE, max_tokens=512).gbnf)
    auto = gbnf_regex(g.build_tool_grammar(tools, "auto", XML_SHAPE, max_tokens=512).gbnf)
    for pattern in (required, auto):
        assert pattern.fullmatch(call_text(XML_SHAPE, "contact", VALID_EXAMPLES[Contact]))
        assert pattern.fullmatch(call_text(XML_SHAPE, "search", VALID_EXAMPLES[Search]))
        assert not pattern.fullmatch(call_text(XML_SHAPE, "delete_everything", {}))
    assert auto.fullmatch("Hello! How can I help?") and not required.fullmatch("Hello! How can I help?")
    assert not auto.fullmatch("<tool_call>broken")  # text may not start like a call
    xlam_auto = gbnf_regex(g.build_tool_grammar(tools, "auto", XLAM_SHAPE, max_tokens=512).gbnf)
    assert xlam_auto.fullmatch('{"tool_calls":[]}') and xlam_auto.fullmatch("No function fits.")


def test_every_string_and_array_is_bounded_and_fits_max_tokens():
    unbounded = {"type": "object", "required": ["text", "items", "free"], "properties": {
        "text": {"type": "string"}, "items": {"type": "array", "items": {"type": "string"}},
        "free": {"type": "object"}, "pattern": {"type": "string", "pattern": "^a+b*$"}}}
    tools = [tool("t", unbounded)]
    for max_tokens in (160, 300, 2000):
        built = g.build_tool_grammar(tools, "t", XML_SHAPE, max_tokens=max_tokens, max_string_length=256)
        call_rule = built.gbnf.split("call ::= ", 1)[1]
        assert "*" not in call_rule and "+" not in call_rule  # only {m,n} repetitions
        assert built.fits and built.max_call_chars <= max_tokens
        pattern = gbnf_regex(built.gbnf)
        longest = built.bounds.string
        assert pattern.fullmatch(call_text(XML_SHAPE, "t", {"text": "x" * longest, "items": [], "free": {}}))
        assert not pattern.fullmatch(call_text(XML_SHAPE, "t", {"text": "x" * (longest + 1), "items": [],
                                                                "free": {}}))
    # explicit maxLength / maxItems are kept when they fit, capped when they do not
    built = g.build_tool_grammar([tool("c", Contact)], "c", XML_SHAPE, max_tokens=4000)
    assert gbnf_regex(built.gbnf).fullmatch(call_text(XML_SHAPE, "c", {"name": "y" * 50}))
    assert not gbnf_regex(built.gbnf).fullmatch(call_text(XML_SHAPE, "c", {"name": "y" * 51}))


def test_tools_too_big_for_max_tokens_are_reported():
    built = g.build_tool_grammar([tool("s", Shipment)], "s", XML_SHAPE, max_tokens=40)
    assert not built.fits and built.max_call_chars > 40


def test_schemas_the_converter_refuses():
    recursive = {"$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}},
                                    "required": ["next"]}}, "$ref": "#/$defs/Node"}
    with pytest.raises(g.GrammarError):
        g.build_tool_grammar([tool("r", recursive)], "r", XML_SHAPE, max_tokens=512)
    with pytest.raises(g.GrammarError):
        g.build_tool_grammar([tool("c", Contact)], "missing", XML_SHAPE, max_tokens=512)
    with pytest.raises(g.GrammarError):
        g.build_tool_grammar([tool("x", {"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}})],
                             "x", XML_SHAPE, max_tokens=512)


def test_validate_agrees_with_pydantic():
    for model, example in VALID_EXAMPLES.items():
        assert g.validate(model.model_json_schema(), example) == [], model
    for model, examples in INVALID_EXAMPLES.items():
        schema = model.model_json_schema()
        for bad in examples:
            assert g.validate(schema, bad), (model, bad)


# -- with the model: grammars compile, sampled calls validate ---------------------------------------

PROMPTS = {
    Contact: "Save Grace Hopper, 85 years old, grace@navy.mil as a contact.",
    Order: "Order 3 red widgets, SKU WID-0042, at 19.99 each, as a gift.",
    Meeting: "Book the large room for a kickoff on 2024-07-03 with bo@acme.io.",
    Shipment: "Ship a 30x20x10 box to Main Street 5, Springfield.",
    Search: "Find contacts tagged vip named Smith, at most 5.",
    Website: "Remember the website https://example.org/pricing with a note about discounts.",
    Address: "The address is Baker Street 221b, London, 12345.",
    Nothing: "Ping the system.",
}


@pytest.mark.parametrize("shape", [XML_SHAPE, XLAM_SHAPE], ids=["xml", "xlam"])
async def test_every_grammar_compiles_in_llama_cpp(llm_runtime, shape):
    tools = [tool(m.__name__.lower(), m) for m in SCHEMAS]
    for choice in ["auto", "required", *(m.__name__.lower() for m in SCHEMAS)]:
        for max_tokens in (64, 512):
            built = g.build_tool_grammar(tools, choice, shape, max_tokens=max_tokens)
            assert await llm_runtime.grammar_compiles(built.gbnf), (choice, built.gbnf)
    assert not await llm_runtime.grammar_compiles('root ::= "unterminated')


async def test_sampled_calls_validate_against_pydantic(llm_runtime):
    temperature = 1.2  # well off the greedy path (tests of the runtime sample at 0)
    tools = [tool(m.__name__.lower(), m, f"Handle a {m.__name__.lower()}") for m in SCHEMAS]
    for model in SCHEMAS:
        name = model.__name__.lower()
        completion = await llm_runtime.complete(
            [{"role": "user", "content": PROMPTS[model]}], tools=tools,
            tool_choice={"type": "function", "function": {"name": name}}, max_tokens=400, temperature=temperature)
        assert completion.finish_reason == "tool_calls", completion
        (call,) = completion.tool_calls
        assert call.name == name
        model.model_validate(call.arguments)  # raises if the model produced anything invalid
        assert set(call.arguments) <= set(model.model_fields)  # and nothing it would silently drop
