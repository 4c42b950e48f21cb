"""Chat formats: the prompt a model sees (xLAM blocks, <tools>/<tool_call> tags on the model's
own chat template) and the parsing of its answers back into tool calls."""

from __future__ import annotations

import json

from plugins.ml.llm import prompts

TOOLS = [
    {"type": "function", "function": {
        "name": "create_lead", "description": "Create a new lead in the CRM",
        "parameters": {"type": "object", "title": "CreateLeadArgs", "required": ["name"],
                       "properties": {"name": {"type": "string", "title": "Name", "description": "Full name"}}}}},
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
]

CONVERSATION = [
    {"role": "system", "content": "You work for Acme."},
    {"role": "user", "content": "Add Ada as a lead."},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "create_lead", "arguments": json.dumps({"name": "Ada"})}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"id": "lead-42"}'},
    {"role": "user", "content": [{"type": "text", "text": "Thanks! "}, {"type": "text", "text": "Now the weather?"}]},
]


def test_xml_format_shows_tools_on_the_models_chat_template():
    text = prompts.render(CONVERSATION, TOOLS, "auto", "xml", prompts.ChatTemplate())  # ChatML
    system, rest = text.split("<|im_end|>", 1)
    assert system.startswith("<|im_start|>system\nYou work for Acme.")
    assert "<tools>" in system and "</tools>" in system
    assert "Create a new lead in the CRM" in system and "Full name" in system  # descriptions are shown
    assert '"title"' not in system  # schema noise is not
    assert "<tool_call>" in system  # the format instruction
    # the history: the assistant's call in the taught format, the result as a tool response
    assert '<|im_start|>assistant\n<tool_call>\n{"name": "create_lead", "arguments": {"name": "Ada"}}\n</tool_call>' \
        in rest
    assert '<|im_start|>user\n<tool_response>\n{"id": "lead-42"}\n</tool_response><|im_end|>' in rest
    assert "Thanks! Now the weather?" in rest
    assert text.endswith("<|im_start|>assistant\n")


def test_xml_format_uses_a_custom_template_and_hides_tools_for_none():
    template = prompts.ChatTemplate("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}[go]",
                                    bos_token="<s>")
    text = prompts.render([{"role": "user", "content": "hi"}], TOOLS, "none", "xml", template)
    assert text == "[user]hi[go]"
    with_tools = prompts.render([{"role": "user", "content": "hi"}], TOOLS, "required", "xml", template)
    assert with_tools.startswith("[system]") and "get_weather" in with_tools


def test_xlam_format_blocks():
    text = prompts.render(CONVERSATION, TOOLS, "auto", "xlam", prompts.ChatTemplate())
    assert text.count("<|im_start|>") == 2  # one user turn, then the assistant's
    order = ["[BEGIN OF TASK INSTRUCTION]", "You work for Acme.", "[END OF TASK INSTRUCTION]",
             "[BEGIN OF AVAILABLE TOOLS]", "[END OF AVAILABLE TOOLS]", "[BEGIN OF FORMAT INSTRUCTION]",
             '"tool_calls"', "[END OF FORMAT INSTRUCTION]", "[BEGIN OF HISTORY STEPS]", "[END OF HISTORY STEPS]",
             "[BEGIN OF QUERY]", "Thanks! Now the weather?", "[END OF QUERY]"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    tools_block = text.split("[BEGIN OF AVAILABLE TOOLS]\n", 1)[1].split("\n[END OF AVAILABLE TOOLS]", 1)[0]
    assert json.loads(tools_block)[0] == {"name": "create_lead", "description": "Create a new lead in the CRM",
                                          "parameters": {"name": {"type": "string", "description": "Full name"}}}
    history = json.loads(text.split("[BEGIN OF HISTORY STEPS]\n", 1)[1].split("\n[END OF HISTORY STEPS]", 1)[0])
    assert history[1]["tool_calls"] == [{"name": "create_lead", "arguments": {"name": "Ada"}}]
    assert history[2]["next_observation"] == '{"id": "lead-42"}'


def test_parse_xml_answers():
    parsed = prompts.parse('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>', "xml")
    assert parsed.content is None and [(c.name, c.arguments) for c in parsed.calls] == [("get_weather", {"city": "Oslo"})]
    assert parsed.calls[0].id.startswith("call_")
    two = prompts.parse('Sure.\n<tool_call>{"name": "a", "arguments": {}}</tool_call>'
                        '<tool_call>{"name": "b", "parameters": "{\\"x\\": 1}"}</tool_call>', "xml")
    assert two.content == "Sure." and [(c.name, c.arguments) for c in two.calls] == [("a", {}), ("b", {"x": 1})]
    assert prompts.parse("Just text.", "xml").calls == []
    broken = prompts.parse('<tool_call>{"name": "a", "arguments": {</tool_call>', "xml")
    assert broken.calls == [] and broken.content.startswith("<tool_call>")


def test_parse_xlam_answers():
    parsed = prompts.parse('{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}', "xlam")
    assert parsed.content is None and parsed.calls[0].arguments == {"city": "Rome"}
    assert prompts.parse('{"tool_calls": []}', "xlam").calls == []
    assert prompts.parse("I cannot help with that.", "xlam").content == "I cannot help with that."
    assert prompts.parse('{"tool_calls": [{"nom": 1}]}', "xlam").calls == []
