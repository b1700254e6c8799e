"""The SSRF guard: what a URL resolves to decides, however the address is spelled."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from kith.errors import ValidationFailed
from kith.outbound import guard
from kith.outbound.guard import UnsafeTarget, check_url, refusal_reason

REFUSED = [
    ("http://127.0.0.1/hook", "a loopback address"),
    ("http://localhost:8080/hook", "a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
    ("http://10.1.2.3/hook", "a private address"),
    ("http://192.168.0.10/hook", "a private address"),
    ("http://172.16.5.4/hook", "a private address"),
    ("http://[::1]/hook", "a loopback address"),
    ("http://[::ffff:127.0.0.1]/hook", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("http://[::ffff:169.254.169.254]/", "an IPv6 form of 169.254.169.254"),
    ("http://0x7f000001/hook", "a loopback address"),
    ("http://2130706433/hook", "a loopback address"),
    ("http://0177.0.0.1/hook", "a loopback address"),
    ("http://127.1/hook", "a loopback address"),
    ("http://0.0.0.0/hook", "an unspecified address"),
    ("http://[::]/hook", "an unspecified address"),
    ("http://100.64.0.1/hook", "a shared (carrier-grade NAT) address"),
    ("http://169.254.10.10/hook", "a link-local address"),
    ("http://[fe80::1]/hook", "a link-local address"),
    ("http://224.0.0.1/hook", "a multicast address"),
    ("http://[fd00:ec2::254]/", "a cloud metadata address"),
    ("http://[fc00::1]/hook", "a private address"),
    ("http://[64:ff9b::7f00:1]/hook", "an IPv6 form of 127.0.0.1"),
    ("http://240.0.0.1/hook", "a reserved address"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refuses_non_public_targets(url: str, reason: str) -> None:
    with pytest.raises(UnsafeTarget) as caught:
        check_url(url)
    message = caught.value.message
    assert reason in message
    assert message.endswith("allow it with KITH_WEBHOOK_ALLOWED_HOSTS.")
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.status_code == 422
    assert caught.value.details == [{"field": "url", "message": message}]


def test_the_message_names_the_host_and_the_address() -> None:
    with pytest.raises(UnsafeTarget) as caught:
        check_url("http://127.0.0.1/x")
    assert caught.value.message == (
        "webhook target 127.0.0.1 is a loopback address; allow it with KITH_WEBHOOK_ALLOWED_HOSTS."
    )
    with pytest.raises(UnsafeTarget) as caught:
        check_url("http://0x7f000001/x")
    assert caught.value.message.startswith("webhook target 0x7f000001 (127.0.0.1) is a loopback")


def test_public_addresses_pass() -> None:
    target = check_url("https://93.184.215.14:8443/hooks?x=1")
    assert target.scheme == "https"
    assert target.host == "93.184.215.14"
    assert target.port == 8443
    assert target.address == ipaddress.ip_address("93.184.215.14")
    assert check_url("http://[2606:4700:4700::1111]/").port == 80


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/x",
        "file:///etc/passwd",
        "gopher://93.184.215.14/",
        "javascript:alert(1)",
        "http:///nohost",
        "//93.184.215.14/x",
        "http://93.184.215.14:99999/",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url(url)


def test_unresolvable_hosts_are_refused() -> None:
    with pytest.raises(UnsafeTarget, match="cannot be resolved"):
        check_url("https://no-such-host.invalid/hook")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://localhost/", "http://0x7f000001/", "http://2130706433/"]
)
def test_allowed_address_lifts_the_rule(url: str) -> None:
    target = check_url(url, ["127.0.0.1"])
    assert target.address == ipaddress.ip_address("127.0.0.1")


def test_allow_list_by_name_and_cidr() -> None:
    assert check_url("http://localhost/", ["LOCALHOST."]).host == "localhost"
    # The name allows the name, not the literal address.
    with pytest.raises(UnsafeTarget):
        check_url("http://127.0.0.1/", ["localhost"])
    assert check_url("http://10.1.2.3/", ["10.0.0.0/8"]).host == "10.1.2.3"
    with pytest.raises(UnsafeTarget):
        check_url("http://10.1.2.3/", ["10.9.0.0/16"])
    assert check_url("http://[::1]:9000/", ["::1"]).port == 9000
    assert check_url("http://[::ffff:127.0.0.1]/", ["127.0.0.0/8"]).host == "::ffff:127.0.0.1"
    with pytest.raises(UnsafeTarget):
        check_url("http://169.254.169.254/", ["127.0.0.1"])


def test_every_resolved_address_must_be_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name answering with one public and one private address is refused (the
    client could be sent to either)."""
    real = socket.getaddrinfo

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(guard.socket, "getaddrinfo", fake)
    with pytest.raises(UnsafeTarget, match=r"rebind\.example \(10\.0\.0\.7\) is a private"):
        check_url("https://rebind.example/hook")


def test_refusal_reason_for_public_ipv6_forms() -> None:
    assert refusal_reason(ipaddress.ip_address("2606:4700:4700::1111")) is None
    assert refusal_reason(ipaddress.ip_address("::ffff:93.184.215.14")) is None
    assert refusal_reason(ipaddress.ip_address("2002:7f00:1::1")) is not None  # 6to4 of 127/8
    assert refusal_reason(ipaddress.ip_address("::7f00:1")) is not None  # IPv4-compatible
