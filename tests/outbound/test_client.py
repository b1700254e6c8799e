"""The outbound client against real servers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kith.outbound import guard
from kith.outbound.client import (
    MAX_RESPONSE_BYTES,
    CircuitBreaker,
    CircuitOpen,
    OutboundClient,
    OutboundError,
)
from kith.outbound.guard import UnsafeTarget
from kith.settings import Settings
from tests.conftest import make_settings
from tests.outbound.receiver import Receiver, Reply


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"webhook_allowed_hosts": ["127.0.0.1"]}
    values.update(overrides)
    return make_settings("sqlite://", tmp_path, **values)


def test_posts_and_reads_the_answer(receiver: Receiver, tmp_path: Path) -> None:
    receiver.reply(Reply(201, b'{"ok":true}', {"X-Answer": "yes"}))
    client = OutboundClient(_settings(tmp_path))
    response = client.post(receiver.url + "?a=1", b'{"x":1}', {"Content-Type": "application/json"})
    assert response.status == 201
    assert response.ok
    assert response.body == b'{"ok":true}'
    assert response.headers["x-answer"] == "yes"
    assert response.elapsed_ms >= 0
    assert not response.truncated
    (seen,) = receiver.requests
    assert seen.path == "/hook?a=1"
    assert seen.body == b'{"x":1}'
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Host"] == f"127.0.0.1:{receiver.port}"


def test_refused_target_is_never_contacted(receiver: Receiver, tmp_path: Path) -> None:
    client = OutboundClient(_settings(tmp_path, webhook_allowed_hosts=[]))
    with pytest.raises(UnsafeTarget, match="loopback"):
        client.post(receiver.url, b"{}", {})
    with pytest.raises(UnsafeTarget, match="loopback"):
        client.post(f"http://localhost:{receiver.port}/hook", b"{}", {})
    assert receiver.requests == []


def test_connects_to_the_checked_address_resolving_once(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name is resolved once, by the guard; the connection goes to that address
    with the name in Host (a rebinding DNS answer is never asked for)."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.0.0.9", "10.0.0.9"])
    asked: list[str] = []

    def rebinding_dns(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.rebind.test":
            asked.append(host)
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(guard.socket, "getaddrinfo", rebinding_dns)
    client = OutboundClient(_settings(tmp_path, webhook_allowed_hosts=["127.0.0.1"]))
    response = client.post(f"http://hooks.rebind.test:{receiver.port}/in", b"{}", {})
    assert response.status == 200
    assert asked == ["hooks.rebind.test"]
    assert receiver.requests[0].headers["Host"] == f"hooks.rebind.test:{receiver.port}"
    # The next answer is private: refused before any connection.
    with pytest.raises(UnsafeTarget, match=r"10\.0\.0\.9"):
        client.post(f"http://hooks.rebind.test:{receiver.port}/in", b"{}", {})
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(receiver: Receiver, tmp_path: Path) -> None:
    receiver.reply(Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    response = OutboundClient(_settings(tmp_path)).post(receiver.url, b"{}", {})
    assert response.status == 302
    assert not response.ok
    assert len(receiver.requests) == 1


def test_large_answers_are_truncated(receiver: Receiver, tmp_path: Path) -> None:
    receiver.reply(Reply(200, b"x" * (MAX_RESPONSE_BYTES * 3)))
    response = OutboundClient(_settings(tmp_path)).post(receiver.url, b"{}", {})
    assert len(response.body) == MAX_RESPONSE_BYTES
    assert response.truncated


def test_timeout_is_an_outbound_error(receiver: Receiver, tmp_path: Path) -> None:
    receiver.reply(Reply(200, b"late", delay=1.0))
    client = OutboundClient(_settings(tmp_path, webhook_timeout_seconds=0.2))
    with pytest.raises(OutboundError, match="Timeout"):
        client.post(receiver.url, b"{}", {})


def test_refused_connection_is_an_outbound_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OutboundError):
        OutboundClient(_settings(tmp_path)).post(f"http://127.0.0.1:{port}/", b"{}", {})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_circuit_breaker_opens_after_five_failures_and_half_opens() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(4):
        breaker.check("h:1")
        breaker.failure("h:1")
    breaker.check("h:1")  # four failures: still closed
    breaker.failure("h:1")
    with pytest.raises(CircuitOpen) as caught:
        breaker.check("h:1")
    assert caught.value.retry_in == pytest.approx(30.0)
    breaker.check("other:1")  # per host
    clock.now += 29.9
    assert breaker.is_open("h:1")
    clock.now += 0.2
    breaker.check("h:1")  # half-open: one trial goes through…
    with pytest.raises(CircuitOpen):
        breaker.check("h:1")  # …and the others still fail fast
    breaker.failure("h:1")  # the trial failed: open again for 30 s
    with pytest.raises(CircuitOpen):
        breaker.check("h:1")
    clock.now += 31
    breaker.check("h:1")
    breaker.success("h:1")
    breaker.check("h:1")
    breaker.check("h:1")
    assert not breaker.is_open("h:1")


def test_client_fails_fast_after_five_server_errors(receiver: Receiver, tmp_path: Path) -> None:
    receiver.reply(*[500] * 5)
    client = OutboundClient(_settings(tmp_path))
    statuses = [client.post(receiver.url, b"{}", {}).status for _ in range(5)]
    assert statuses == [500] * 5
    with pytest.raises(CircuitOpen):
        client.post(receiver.url, b"{}", {})
    assert len(receiver.requests) == 5
    # 4xx is the receiver's answer, not an outage: it does not count.
    other = OutboundClient(_settings(tmp_path))
    receiver.reply(*[404] * 6)
    assert [other.post(receiver.url, b"{}", {}).status for _ in range(6)] == [404] * 6


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_sends_the_host_name_as_sni_and_verifies_certificates(tmp_path: Path) -> None:
    """The connection goes to the checked IP, yet TLS asks for (and verifies) the name:
    a self-signed certificate is refused."""
    cert_path, key_path = _self_signed(tmp_path)
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = OutboundClient(_settings(tmp_path, webhook_allowed_hosts=["localhost"]))
    try:
        with pytest.raises(OutboundError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            client.post(f"https://localhost:{port}/hook", b"{}", {})
    finally:
        thread.join(5)
        listener.close()
    assert server_names == ["localhost"]


def test_international_names_go_out_idna_encoded(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def dns(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("bücher.test", "xn--bcher-kva.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(guard.socket, "getaddrinfo", dns)
    client = OutboundClient(_settings(tmp_path))
    assert client.post(f"http://bücher.test:{receiver.port}/in", b"{}", {}).status == 200
    assert receiver.requests[0].headers["Host"] == f"xn--bcher-kva.test:{receiver.port}"
