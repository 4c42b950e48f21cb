"""The SSRF corpus: URLs a user may give the Hub (webhooks, integrations, DMS hosts, imports)
that must never be fetched. Every URL-taking plugin extends tests/security with a test that
feeds these to its own routes (see test_ssrf_corpus.py for the webhooks' one).

FORBIDDEN_ADDRESSES: (url, reason) every spelling of an address that is not on the internet.
BAD_URLS: (url, reason) URLs refused before any lookup.
"""

FORBIDDEN_ADDRESSES = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.255.255.254:8080/x", "loopback"),
    ("http://2130706433/", "loopback"),  # decimal
    ("http://0x7f000001/", "loopback"),  # hex
    ("http://0x7f.1/", "loopback"),  # hex, short form
    ("http://127.1/", "loopback"),  # short form
    ("http://017700000001/", "loopback"),  # octal
    ("http://127.0.0.1./", "loopback"),  # trailing dot
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::127.0.0.1]/", "loopback"),  # IPv4-compatible (deprecated)
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4
    ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://0xa9fea9fe/", "metadata"),  # 169.254.169.254 in hex
    ("http://2852039166/", "metadata"),  # ... and decimal
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://100.100.100.200/", "metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://100.127.255.254/", "CGNAT"),
    ("http://[fc00::1]/", "ULA"),
    ("http://[fd12:3456::1]/", "ULA"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://198.18.0.1/", "reserved"),
    ("http://192.0.2.10/", "not allowed"),  # documentation range: not globally routable
]

BAD_URLS = [
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("//example.com/x", "scheme"),
    ("http://user:pass@example.com/", "user name"),
    ("http://user@example.com/", "user name"),
    ("http://example.com\\@127.0.0.1/", "backslash"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com/\r\nX-Injected: 1", "control"),
    ("http:///path-only", "host"),
    ("http://[::1/", "valid URL"),
    ("http://0177.0.0.1/", "valid URL"),  # httpx refuses the ambiguous octal dotted form
]
