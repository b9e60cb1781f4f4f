"""Certificate QRs (参保证明): verified offline against a pinned portal JWKS (README contract)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_sim import PhoneApp, PhoneError
from mobile_sim.certificate import UnknownKey, verify_token
from mobile_sim.errors import Unreachable
from tests.mobile_sim.support import C1, CertificatePortal, certificate_portal


def _phone(tmp_path: Path, portal: CertificatePortal) -> PhoneApp:
    return PhoneApp.open(tmp_path / "phone", "http://127.0.0.1:1", certificate_jwks_url=portal.url)


async def test_a_signed_certificate_verifies_and_says_what_it_certifies(tmp_path: Path) -> None:
    """Title, number, holder, facts, issuer and exp come from the verified token."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        token = portal.sign(portal.keys[0])
        cert = await phone.verify_certificate(token)
    assert cert.title_zh == "单位参保证明" and cert.serial == "ZM2024110500123"
    assert cert.holder_name == C1["company_name"] and cert.holder_id == C1["credit_code"]
    assert [(f.label_zh, f.value) for f in cert.facts] == [
        ("参保险种", "企业职工基本养老保险"),
        ("参保人数", "36"),
    ]
    assert cert.issuer == portal.issuer and cert.expires_at > time.time() + 180 * 24 * 3600


async def test_verification_is_offline_once_the_keys_are_pinned(tmp_path: Path) -> None:
    """After the first fetch the portal may be gone: certificates verify any number of times."""
    async with certificate_portal() as portal:
        token = portal.sign(portal.keys[0])
        async with _phone(tmp_path, portal) as phone:
            await phone.verify_certificate(token)
    async with PhoneApp.open(tmp_path / "phone") as offline:
        for _ in range(3):
            assert (await offline.verify_certificate(token)).serial == "ZM2024110500123"
    assert portal.fetches == 1


async def test_a_certificate_qr_image_verifies(tmp_path: Path) -> None:
    """The printed QR, photographed as a PNG, verifies like its text."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        out = io.BytesIO()
        qrcode.make(portal.sign(portal.keys[0])).save(out, format="PNG")
        (tmp_path / "cert.png").write_bytes(out.getvalue())
        assert (await phone.verify_certificate(tmp_path / "cert.png")).title_zh == "单位参保证明"


async def test_a_verification_url_carries_the_token_after_the_hash(tmp_path: Path) -> None:
    """`https://portal/v#TOKEN` works too, so an ordinary scanner can open the portal's page."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        url = f"{portal.issuer}/cert/verify#{portal.sign(portal.keys[0])}"
        assert (await phone.verify_certificate(url)).serial == "ZM2024110500123"


async def test_rotation_refetches_the_jwks_once(tmp_path: Path) -> None:
    """A certificate signed by a new portal key makes the phone re-fetch the JWKS once."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        await phone.verify_certificate(portal.sign(portal.keys[0]))
        new = portal.add_key("cert-2025", alg="Ed25519")
        assert (await phone.verify_certificate(portal.sign(new, alg="Ed25519"))).kid == "cert-2025"
        assert portal.fetches == 2


async def test_an_unknown_key_is_refused_after_one_fetch(tmp_path: Path) -> None:
    """A key the portal does not publish: certificate_invalid, and no fetch storm after that."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        stranger = CertificatePortal(url=portal.url).add_key("stolen")
        for _ in range(3):
            with pytest.raises(PhoneError) as refused:
                await phone.verify_certificate(portal.sign(stranger))
            assert refused.value.code == "certificate_invalid"
        assert portal.fetches == 1


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("expired", "certificate_expired"),
        ("altered", "certificate_invalid"),
        ("wrong typ", "certificate_invalid"),
        ("wrong issuer", "certificate_invalid"),
        ("no exp", "certificate_invalid"),
        ("signed by someone else with the same kid", "certificate_invalid"),
    ],
)
async def test_bad_certificates_are_refused(tmp_path: Path, case: str, code: str) -> None:
    """Expired, altered, mistyped, foreign or forged certificates get a documented code."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        key = portal.keys[0]
        now = int(time.time())
        token = {
            "expired": lambda: portal.sign(key, iat=now - 400 * 86400, exp=now - 10),
            "altered": lambda: _alter(portal.sign(key)),
            "wrong typ": lambda: portal.sign(key, typ="JWT"),
            "wrong issuer": lambda: portal.sign(key, iss="http://127.0.0.1:1"),
            "no exp": lambda: portal.sign(key, exp="never"),
            "signed by someone else with the same kid": lambda: portal.sign(
                CertificatePortal().add_key(key.kid)
            ),
        }[case]()
        with pytest.raises(PhoneError) as refused:
            await phone.verify_certificate(token)
        assert refused.value.code == code


def _alter(token: str) -> str:
    head, payload, signature = token.split(".")
    middle = len(payload) // 2
    flipped = payload[:middle] + ("A" if payload[middle] != "A" else "B") + payload[middle + 1 :]
    return f"{head}.{flipped}.{signature}"


async def test_eddsa_is_refused_before_any_fetch(tmp_path: Path) -> None:
    """The deprecated "EdDSA" name (RFC 9864) is refused from the header alone."""
    async with certificate_portal() as portal, _phone(tmp_path, portal) as phone:
        header_only = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsiLCJ0eXAiOiJjZXJ0K2p3dCJ9.e30.c2ln"
        with pytest.raises(PhoneError) as refused:
            await phone.verify_certificate(header_only)
        assert refused.value.code == "certificate_invalid" and portal.fetches == 0


async def test_unreachable_keys_are_their_own_error(tmp_path: Path) -> None:
    """No JWKS at the configured URL on first use: certificate_keys_unavailable (CLI exit 3)."""
    async with certificate_portal() as portal:
        token = portal.sign(portal.keys[0])
    async with PhoneApp.open(tmp_path / "phone", certificate_jwks_url=portal.url) as phone:
        with pytest.raises(Unreachable) as refused:
            await phone.verify_certificate(token)
    assert refused.value.code == "certificate_keys_unavailable"


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.text(
                alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                max_size=80,
            ),
            min_size=3,
            max_size=3,
        ).map(".".join),
    )
)
def test_any_token_verifies_or_is_a_documented_refusal(text: str) -> None:
    """Any text given to the certificate verifier verifies or raises its documented errors."""
    keys = {
        "k": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    }
    try:
        verify_token(text, keys, issuer="http://127.0.0.1:8701", now=time.time())
    except PhoneError as refused:
        assert refused.code in ("certificate_invalid", "certificate_expired")
    except UnknownKey:
        pass
