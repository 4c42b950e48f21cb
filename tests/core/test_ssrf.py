"""The SSRF guard (core/ssrf.py): URL syntax, every spelling of a forbidden address, DNS
answers, the allowlist, and the guarded httpx client (checked, pinned connections)."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.kernel.settings import SettingsError, load_settings
from tests.security.ssrf_corpus import BAD_URLS, FORBIDDEN_ADDRESSES
from core.events.ssrf import (
    Allowlist,
    UnsafeURL,
    address_refusal,
    check_address,
    check_url,
    literal_address,
    parse_url,
    safe_client,
)


def resolver(mapping: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError(f"unknown host {host}")
        return mapping[host]

    return resolve


NO_DNS = resolver({})  # every name is unknown: literal addresses only


# -- addresses in every spelling ----------------------------------------------------------------


@pytest.mark.parametrize("url, reason", FORBIDDEN_ADDRESSES)
async def test_forbidden_addresses_in_every_spelling(url, reason):
    with pytest.raises(UnsafeURL) as refused:
        await check_url(url, [], resolve=NO_DNS)
    assert reason in refused.value.reason, refused.value.reason
    assert "not allowed" in refused.value.reason


@pytest.mark.parametrize("url", ["http://93.184.216.34/", "https://8.8.8.8:8443/hook", "http://[2606:4700::1111]/x",
                                 "http://1.1.1.1", "http://[2002:5db8:d822::1]/"])
async def test_public_addresses_pass(url):
    resolved = await check_url(url, [], resolve=NO_DNS)
    assert resolved.addresses and not resolved.allowlisted
    assert resolved.port in (80, 443, 8443)


def test_literal_address_understands_inet_aton_forms():
    assert literal_address("2130706433") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("0x7f.1") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("0177.0.0.1") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("[::1]") == ipaddress.ip_address("::1")
    assert literal_address("example.com") is None and literal_address("deadbeef") is None


def test_address_refusal_of_public_and_private():
    assert address_refusal("8.8.8.8") is None and address_refusal("2001:4860:4860::8888") is None
    assert address_refusal("127.0.0.1") == "loopback"
    assert "cloud metadata" in address_refusal("169.254.169.254")


# -- URL syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url, reason", BAD_URLS)
def test_bad_urls_are_refused_before_any_lookup(url, reason):
    with pytest.raises(UnsafeURL) as refused:
        parse_url(url)
    assert reason in refused.value.reason, refused.value.reason


# -- DNS answers --------------------------------------------------------------------------------


async def test_every_resolved_address_is_checked():
    dns = resolver({
        "public.test": ["93.184.216.34", "2606:2800:220:1::1"],
        "mixed.test": ["93.184.216.34", "10.0.0.5"],  # one bad address refuses the host
        "rebind.test": ["127.0.0.1"],
        "meta.test": ["169.254.169.254"],
        "v6local.test": ["::1"],
    })
    ok = await check_url("https://public.test/hook", [], resolve=dns)
    assert [str(a) for a in ok.addresses] == ["93.184.216.34", "2606:2800:220:1::1"] and ok.port == 443
    for host, reason in [("mixed.test", "private"), ("rebind.test", "loopback"), ("meta.test", "metadata"),
                         ("v6local.test", "loopback")]:
        with pytest.raises(UnsafeURL) as refused:
            await check_url(f"http://{host}/", [], resolve=dns)
        assert reason in refused.value.reason
    with pytest.raises(UnsafeURL) as unknown:
        await check_url("http://nowhere.test/", [], resolve=dns)
    assert "does not resolve" in unknown.value.reason


async def test_localhost_is_refused_through_the_system_resolver():
    with pytest.raises(UnsafeURL) as refused:
        await check_url("http://localhost:8000/")
    assert "loopback" in refused.value.reason


# -- the allowlist ------------------------------------------------------------------------------


async def test_allowlist_entries():
    dns = resolver({"hooks.internal": ["10.1.2.3"], "a.corp.example": ["192.168.7.7"], "other.test": ["10.1.2.3"]})
    allow = ["127.0.0.1", "hooks.internal", "*.corp.example", "172.16.0.0/12", "[::1]"]
    assert (await check_url("http://127.0.0.1:9000/", allow)).allowlisted is False  # address entry
    assert (await check_url("http://[::1]:9000/", allow)).addresses == (ipaddress.ip_address("::1"),)
    assert (await check_url("http://hooks.internal/", allow, resolve=dns)).allowlisted is True
    assert (await check_url("http://a.corp.example/", allow, resolve=dns)).allowlisted is True
    assert (await check_url("http://172.20.1.1/", allow)).addresses
    with pytest.raises(UnsafeURL):  # same address, but this name is not listed
        await check_url("http://other.test/", allow, resolve=dns)
    with pytest.raises(UnsafeURL):
        await check_url("http://127.0.0.2/", allow)
    with pytest.raises(UnsafeURL):
        await check_url("http://corp.example/", allow, resolve=dns)


def test_metadata_needs_a_narrow_allowlist_entry():
    metadata = ipaddress.ip_address("169.254.169.254")
    with pytest.raises(UnsafeURL):
        check_address(metadata, ["169.254.0.0/16"])
    with pytest.raises(UnsafeURL):
        check_address(metadata, ["0.0.0.0/0"])
    assert check_address(metadata, ["169.254.169.254"]) == metadata
    assert check_address("169.254.10.10", ["169.254.0.0/16"])  # other link-local addresses: yes


def test_allowlist_parsing_and_settings():
    parsed = Allowlist.parse([" Hooks.Internal. ", "10.0.0.0/8", "*.corp.example", "::1"])
    assert parsed.allows_host("hooks.internal") and parsed.allows_host("x.corp.example")
    assert parsed.allows_address(ipaddress.ip_address("10.9.9.9"))
    assert parsed.allows_address(ipaddress.ip_address("::1"))
    with pytest.raises(ValueError):
        Allowlist.parse(["not a host"])
    assert load_settings(webhooks={"allowlist": "127.0.0.1, 10.0.0.0/8"}).webhooks.allowlist == ["127.0.0.1", "10.0.0.0/8"]
    with pytest.raises(SettingsError, match="webhooks.allowlist"):
        load_settings(webhooks={"allowlist": ["10.0.0.0/33/1"]})


# -- the guarded client -------------------------------------------------------------------------


class Server:
    def __init__(self):
        self.hosts: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hosts.append(self.headers["Host"])
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"hello"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


async def test_safe_client_reaches_an_allowlisted_address(server):
    async with safe_client(["127.0.0.1"]) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 200 and response.text == "hello"


async def test_safe_client_refuses_at_connect_time(server):
    before = len(server.hosts)
    async with safe_client([]) as client:
        with pytest.raises(UnsafeURL, match="loopback"):
            await client.get(f"http://127.0.0.1:{server.port}/")
        with pytest.raises(UnsafeURL, match="loopback"):
            await client.get(f"http://2130706433:{server.port}/")
    assert len(server.hosts) == before


async def test_connection_is_pinned_to_the_checked_address_and_keeps_the_host_name(server):
    dns = resolver({"pinned.test": ["127.0.0.1"]})
    async with safe_client(["pinned.test"], resolve=dns) as client:
        response = await client.get(f"http://pinned.test:{server.port}/")
    assert response.status_code == 200
    assert server.hosts[-1] == f"pinned.test:{server.port}"


async def test_dns_rebinding_between_check_and_connect_is_refused(server):
    """The name passes the check with a public answer, then answers 127.0.0.1 when the
    connection is made: the connect-time check refuses it."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host, port):
        return next(answers)

    url = f"http://rebind.test:{server.port}/"
    assert (await check_url(url, [], resolve=rebinding)).addresses
    before = len(server.hosts)
    async with safe_client([], resolve=rebinding) as client:
        with pytest.raises(UnsafeURL, match="loopback"):
            await client.get(url)
    assert len(server.hosts) == before


async def test_safe_client_ignores_proxy_environment_and_redirects(server, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.255.255.1:3128")
    async with safe_client(["127.0.0.1"], timeout=5) as client:
        direct = await client.get(f"http://127.0.0.1:{server.port}/")
        redirect = await client.get(f"http://127.0.0.1:{server.port}/redirect")
    assert direct.status_code == 200
    assert redirect.status_code == 302  # not followed to the metadata address


async def test_safe_client_connect_errors_stay_httpx_errors():
    async with safe_client(["127.0.0.1"], timeout=2) as client:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_resolution_runs_concurrently():
    async def slow(host, port):
        await asyncio.sleep(0.05)
        return ["93.184.216.34"]

    results = await asyncio.gather(*(check_url(f"http://h{i}.test/", [], resolve=slow) for i in range(20)))
    assert len(results) == 20


# -- TLS: the pinned connection still verifies the certificate for the host name ------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 with a certificate for "secure.test" from a test CA."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Hub Test CA")
    (d / "ext.cnf").write_text("subjectAltName=DNS:secure.test\nbasicConstraints=CA:FALSE\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=secure.test")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
        "-days", "2", "-extfile", "ext.cnf")
    running = Server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "srv.pem", d / "srv.key")
    running.httpd.socket = context.wrap_socket(running.httpd.socket, server_side=True)
    yield running, str(d / "ca.pem")
    running.httpd.shutdown()
    running.httpd.server_close()


async def test_tls_is_verified_for_the_host_name_over_the_pinned_address(tls_server):
    import ssl

    server, ca = tls_server
    trust = ssl.create_default_context(cafile=ca)
    dns = resolver({"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    async with safe_client(["secure.test", "other.test"], resolve=dns, verify=trust) as client:
        response = await client.get(f"https://secure.test:{server.port}/")
        assert response.status_code == 200 and server.hosts[-1] == f"secure.test:{server.port}"
        with pytest.raises(httpx.ConnectError):  # the certificate is not for this name
            await client.get(f"https://other.test:{server.port}/")
    async with safe_client(["secure.test"], resolve=dns) as client:  # the system's CAs: unknown issuer
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://secure.test:{server.port}/")
