"""KC-API-SIGN / KC-API-PASSPHRASE against the known-answer vectors of protocol.md §2.5."""

from __future__ import annotations

import pytest

from dashboard.kucoin.protocol import signing

from .conftest import load_sample

SECRET = "f03a5284-5c39-4aaa-9b20-dea10bdcf8e3"
TS = "1700000000000"

# Literal copies of protocol.md §2.5: the test must not depend on the code under test for answers.
VECTORS = [
    ("GET", "/api/v1/accounts?currency=USDT&type=trade", "",
     "ieK4Aadchyf0exslE5RJmZswnHe9P6sz88shq4irEM4="),
    ("POST", "/api/v1/hf/orders",
     '{"clientOid":"5c52e11203aa677f33e493fb","side":"buy","symbol":"BTC-USDT","type":"limit",'
     '"price":"50000","size":"0.00001"}', "qF6udrm1qyMe2YeRwJ1DVnOuhMBjlwagVueGGQhxxmQ="),
    ("DELETE", "/api/v1/hf/orders/670fd33bf9406e0007ab3945?symbol=BTC-USDT", "",
     "+dWZaDHsvOzndJbv1LaeJ5vkc5NcsSYiS5uBtg3wNQU="),
    ("POST", "/api/v1/bullet-private", "", "MbA/wF9D24SWs23VvEpwUFGQdxWsiklW/MMJweTm1FU="),
    ("GET", "/api/v3/market/orderbook/level2?symbol=BTC-USDT", "",
     "ifvfF/iqwyPE5HP8o+c4Gg0H4mZv6VgX/KYjKhV7OvI="),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), VECTORS, ids=[v[0] + v[1] for v in VECTORS]
)
def test_sign_matches_known_answer(method, path, body, expected):
    """sign() reproduces the documented KC-API-SIGN byte for byte."""
    assert signing.sign(SECRET, TS, method, path, body) == expected


@pytest.mark.parametrize("version", ["2", "3"])
def test_passphrase_known_answer(version):
    """Versions 2 and 3 send base64(HMAC(secret, passphrase))."""
    assert signing.sign_passphrase(SECRET, "correct-horse-42", version) == (
        "VRb2eN4BxS/a5g10kkxz65AhOn1fXamI4iMKJ6fc4A8="
    )


def test_shared_vector_file_agrees():
    """The machine-readable vector file gives the same answers (guards against a stale copy)."""
    data = load_sample("scenarios/auth_vectors.json")
    for case in data["cases"]:
        got = signing.sign(
            data["apiSecret"], data["timestamp"], case["method"], case["pathWithQuery"],
            case["body"],
        )
        assert got == case["KC-API-SIGN"]
        assert signing.prehash(
            data["timestamp"], case["method"], case["pathWithQuery"], case["body"]
        ) == case["prehash"]


def test_verify_rejects_tampered_body():
    """verify() fails when one byte of the body differs from what was signed."""
    method, path, body, good = VECTORS[1]
    assert signing.verify(good, SECRET, TS, method, path, body)
    assert not signing.verify(good, SECRET, TS, method, path, body.replace("50000", "50001"))


def test_headers_full_set_for_vector_1():
    """headers() yields every private header with the documented values."""
    creds = signing.Credentials("67a1b2c3d4e5f60001a2b3c4", SECRET, "correct-horse-42", "3")
    h = creds.headers(1700000000000, "GET", "/api/v1/accounts?currency=USDT&type=trade")
    assert h == {
        "KC-API-KEY": "67a1b2c3d4e5f60001a2b3c4",
        "KC-API-SIGN": "ieK4Aadchyf0exslE5RJmZswnHe9P6sz88shq4irEM4=",
        "KC-API-TIMESTAMP": "1700000000000",
        "KC-API-PASSPHRASE": "VRb2eN4BxS/a5g10kkxz65AhOn1fXamI4iMKJ6fc4A8=",
        "KC-API-KEY-VERSION": "3",
    }


def test_credentials_repr_hides_secrets():
    """Neither the secret nor the passphrase nor the full key appears in repr/str."""
    creds = signing.Credentials("67a1b2c3d4e5f60001a2b3c4", SECRET, "correct-horse-42")
    for text in (repr(creds), str(creds), f"{creds}"):
        assert (
            SECRET not in text
            and "correct-horse-42" not in text
            and "67a1b2c3d4e5f60001a2b3c4" not in text
        )


def test_credentials_reject_unknown_version():
    """Only key versions 2 and 3 are accepted."""
    with pytest.raises(ValueError, match="KEY-VERSION"):
        signing.Credentials("k", "s", "p", "4")
