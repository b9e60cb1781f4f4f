"""Signed phone requests (authsvc/core/device.py): what is signed and every check, no I/O."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authsvc import errors
from authsvc.core import device
from authsvc.core.crypto import Algorithm, PrivateKey, generate, public_jwk, thumbprint

NOW = 1_800_000_000
SKEW = 300.0
METHOD, PATH = "POST", "/api/mobile/tickets/abc/confirm"
BODY = b'{"account":"personal:"}'
NONCE = "n0nce-n0nce-n0nce-22ch"
ALGS = [Algorithm.ED25519, Algorithm.ES256]
KEYS: dict[Algorithm, PrivateKey] = {alg: generate(alg) for alg in ALGS}
FUZZ = settings(max_examples=300, deadline=None, database=None)
Headers = dict[str, str]


@pytest.fixture(params=ALGS, ids=str)
def key(request: pytest.FixtureRequest) -> PrivateKey:
    return KEYS[request.param]


def headers_for(
    key: PrivateKey,
    *,
    method: str = METHOD,
    path: str = PATH,
    body: bytes = BODY,
    timestamp: int = NOW,
    nonce: str = NONCE,
) -> Headers:
    return device.signed_headers(
        key, method=method, path=path, body=body, timestamp=timestamp, nonce=nonce
    )


def check(
    key: PrivateKey,
    headers: Headers,
    *,
    method: str = METHOD,
    path: str = PATH,
    body: bytes = BODY,
    now: float = NOW,
) -> str:
    request = device.SignedRequest(method, path, headers, body)
    return device.verify_request(request, public_jwk(key.public_key()), now=now, max_skew=SKEW)


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(errors.QrAuthError) as refused:
        call()
    return refused.value.code


def test_round_trip(key: PrivateKey) -> None:
    """A request signed by the device key verifies and yields the key's RFC 7638 thumbprint."""
    device_id = check(key, headers_for(key))
    assert device_id == thumbprint(public_jwk(key.public_key()))
    assert headers_for(key)[device.HEADER_KEY_ID] == device_id


def test_canonical_form() -> None:
    """The canonical text is the documented tag, method, path, timestamp, nonce and body hash."""
    text = device.canonical("post", "/p", "1", "n", b"")
    assert text == (
        b"QRAUTH-DEVICE-V1\nPOST\n/p\n1\nn\n"
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


# What the server sees differs from what was signed → device_signature_invalid.
TAMPERED: dict[str, Callable[[PrivateKey], tuple[Headers, dict[str, object]]]] = {
    "body": lambda k: (headers_for(k), {"body": BODY + b" "}),
    "empty body": lambda k: (headers_for(k), {"body": b""}),
    "path": lambda k: (headers_for(k), {"path": "/api/mobile/tickets/xyz/confirm"}),
    "method": lambda k: (headers_for(k), {"method": "PUT"}),
    "timestamp header": lambda k: ({**headers_for(k), device.HEADER_TIMESTAMP: str(NOW + 1)}, {}),
    "nonce header": lambda k: ({**headers_for(k), device.HEADER_NONCE: NONCE[::-1]}, {}),
    "signature of another request": lambda k: (
        {
            **headers_for(k),
            device.HEADER_SIGNATURE: headers_for(k, body=b"{}")[device.HEADER_SIGNATURE],
        },
        {},
    ),
    "signature not base64": lambda k: ({**headers_for(k), device.HEADER_SIGNATURE: "!!!"}, {}),
    "empty signature": lambda k: ({**headers_for(k), device.HEADER_SIGNATURE: ""}, {}),
    "skew past": lambda k: (headers_for(k, timestamp=NOW - 301), {}),
    "skew future": lambda k: (headers_for(k, timestamp=NOW + 301), {}),
    "timestamp not a number": lambda k: ({**headers_for(k), device.HEADER_TIMESTAMP: "soon"}, {}),
    "short nonce": lambda k: (headers_for(k, nonce="n" * 15), {}),
    "long nonce": lambda k: (headers_for(k, nonce="n" * 65), {}),
    "other device's key, this key id": lambda k: (
        {
            **headers_for(generate(Algorithm.ES256)),
            device.HEADER_KEY_ID: thumbprint(public_jwk(k.public_key())),
        },
        {},
    ),
    **{
        f"no {name}": (
            lambda k, name=name: ({h: v for h, v in headers_for(k).items() if h != name}, {})
        )
        for name in (
            device.HEADER_KEY_ID,
            device.HEADER_TIMESTAMP,
            device.HEADER_NONCE,
            device.HEADER_SIGNATURE,
        )
    },
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_requests_are_refused(key: PrivateKey, case: str) -> None:
    """Any change between signing and verifying, or a bad header, is device_signature_invalid."""
    headers, request = TAMPERED[case](key)
    assert code_of(lambda: check(key, headers, **request)) == "device_signature_invalid"  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ALGS, ids=str)
def test_other_device_is_a_mismatch(key: PrivateKey, alg: Algorithm) -> None:
    """A request signed by another device's key (and its key id) is device_key_mismatch."""
    other = generate(alg)
    assert code_of(lambda: check(key, headers_for(other))) == "device_key_mismatch"


def test_wrong_key_id_is_a_mismatch(key: PrivateKey) -> None:
    """A correct signature under a key id that is not the card's device is device_key_mismatch."""
    headers = {**headers_for(key), device.HEADER_KEY_ID: "A" * 43}
    assert code_of(lambda: check(key, headers)) == "device_key_mismatch"


@pytest.mark.parametrize(
    ("timestamp", "nonce"),
    [
        (NOW - 300, NONCE),
        (NOW + 300, NONCE),
        (NOW, "n" * 16),
        (NOW, "n" * 64),
    ],
)
def test_bounds_are_inclusive(key: PrivateKey, timestamp: int, nonce: str) -> None:
    """±300 s of skew and nonces of 16 to 64 characters are accepted."""
    assert check(key, headers_for(key, timestamp=timestamp, nonce=nonce))


def test_unsupported_device_key_is_refused(key: PrivateKey) -> None:
    """A device JWK of a type we do not accept is device_signature_invalid, not a crash."""
    request = device.SignedRequest(METHOD, PATH, headers_for(key), BODY)
    jwk = {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
    assert code_of(lambda: device.verify_request(request, jwk, now=NOW, max_skew=SKEW)) == (
        "device_signature_invalid"
    )


ODD_KEY_IDS = {
    "accented": ("é" * 43, "device_signature_invalid"),
    "CJK": ("设备" * 20, "device_signature_invalid"),
    "NUL": ("\x00" * 43, "device_key_mismatch"),
    "empty": ("", "device_key_mismatch"),
}


@pytest.mark.parametrize(("key_id", "code"), list(ODD_KEY_IDS.values()), ids=list(ODD_KEY_IDS))
def test_odd_key_ids_are_refused(key: PrivateKey, key_id: str, code: str) -> None:
    """A non-ASCII key id is a malformed header; an ASCII one that is not the key's, a mismatch."""
    headers = {**headers_for(key), device.HEADER_KEY_ID: key_id}
    assert code_of(lambda: check(key, headers)) == code


# aiohttp decodes header bytes as UTF-8 with surrogateescape: a raw 0xFF byte arrives as "\udcff".
RAW_BYTES = b"\xff\xfe".decode("utf-8", "surrogateescape") * 16


@pytest.mark.parametrize("header", [device.HEADER_KEY_ID, device.HEADER_NONCE])
def test_header_made_of_non_utf8_bytes_is_refused(key: PrivateKey, header: str) -> None:
    """A key id or nonce carrying non-UTF-8 bytes is a documented refusal, not a server error."""
    headers = {**headers_for(key), header: RAW_BYTES}
    assert code_of(lambda: check(key, headers)) in (
        "device_key_mismatch",
        "device_signature_invalid",
    )


def _value(valid: str) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.just(valid), st.text())


@FUZZ
@given(data=st.data())
def test_arbitrary_header_values_raise_only_documented_errors(data: st.DataObject) -> None:
    """Whatever text the headers hold, verify_request returns the device id or a QrAuthError.

    st.text() draws no lone surrogates: those (non-UTF-8 header bytes) are the xfail above."""
    key = KEYS[data.draw(st.sampled_from(ALGS))]
    valid = headers_for(key)
    headers: Headers = {}
    for name, value in valid.items():
        drawn = data.draw(_value(value), label=name)
        if drawn is not None:
            headers[name] = drawn
    drawn_nonce = data.draw(st.one_of(st.none(), st.text(min_size=16, max_size=64)))
    if drawn_nonce is not None:
        headers[device.HEADER_NONCE] = drawn_nonce
    try:
        assert check(key, headers) == valid[device.HEADER_KEY_ID]
    except errors.QrAuthError as exc:
        assert exc.code in ("device_signature_invalid", "device_key_mismatch")
