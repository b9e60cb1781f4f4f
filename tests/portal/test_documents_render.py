"""Receipts and certificates as PDFs: Chinese that reads back, and a QR, decoded from the
rendered page, that the phone verifies offline any number of times within six months."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_sim.certificate import UnknownKey, verify_token
from mobile_sim.errors import PhoneError
from portal.clock import epoch
from portal.documents import certificate, pdf
from portal.documents.keyring import CertKeyring
from portal.errors import PortalError
from tests.support.pdfs import first_page_png, pdftotext, qr_of, text_of

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NOW = dt.datetime(2026, 12, 1, 2, 30)  # naive UTC (portal.clock)
ISSUER = "http://127.0.0.1:8701"
CONTENT = certificate.CertificateContent(
    kind="unit_insurance_certificate",
    title_zh="单位参保证明",
    title_en="Company social insurance certificate",
    holder_name="哈尔滨冰城科技有限公司",
    holder_id="91230100MA1BX2K306",
    facts=(
        certificate.Fact("参保险种", "Insurance", "企业职工基本养老保险"),
        certificate.Fact("缴费起止年月", "Period", "202606-202611"),
        certificate.Fact("缴费总人数", "Insured", "3"),
    ),
)


def _issue(keyring: CertKeyring, *, at: dt.datetime = NOW) -> tuple[str, bytes]:
    record, key = keyring.signing_key()
    serial = certificate.new_serial("ZM", at)
    claims = certificate.claims(CONTENT, issuer=ISSUER, serial=serial, issued=at)
    token = certificate.sign(claims, kid=record.kid, alg=record.alg, key=key)
    document = pdf.Document(
        title="单位参保证明",
        subtitle="社会保险权益记录单（单位）",
        number_label="证明编号",
        number=serial,
        fields=(("参保单位全称", CONTENT.holder_name), ("统一社会信用代码", CONTENT.holder_id)),
        person_columns=("姓名", "公民身份号码(社会保障号)", "参保起始年月"),
        persons=(pdf.Person("王建国", "230102197503121019", "202301"),),
        notes=pdf.CERT_NOTES,
        seal_text="哈尔滨市社会保险事业局",
        issued_at=at,
        valid_until=certificate.expires_at(at),
        qr_text=certificate.qr_text(ISSUER, token),
    )
    return serial, pdf.render(document)


def _keys(keyring: CertKeyring, at: dt.datetime = NOW) -> dict[str, dict[str, object]]:
    return {k["kid"]: k for k in keyring.jwks(now=at, issuer=ISSUER)["keys"]}


@pytest.fixture
def keyring(tmp_path: Path) -> CertKeyring:
    return CertKeyring.open(tmp_path / "keys", now=NOW)


def test_the_pdf_reads_back_in_chinese_with_its_number(keyring: CertKeyring) -> None:
    """pypdf and pdftotext both find the title, the company, the notes and the serial."""
    serial, data = _issue(keyring)
    assert data.startswith(b"%PDF-")
    for text in (text_of(data), pdftotext(data)):
        assert "单位参保证明" in text and "哈尔滨冰城科技有限公司" in text
        assert serial in text and "王建国" in text and "有效期内(6个月)" in text


def test_the_qr_on_the_page_verifies_any_number_of_times(
    keyring: CertKeyring, tmp_path: Path
) -> None:
    """The QR decoded from the rendered page is the verification URL; the phone's verifier
    accepts its token again and again, and shows what it certifies."""
    serial, data = _issue(keyring)
    text = qr_of(first_page_png(data, tmp_path))
    assert text.startswith(f"{ISSUER}/cert/verify#")
    token = text.rpartition("#")[2]
    for hours in (0, 1, 24 * 90):
        cert = verify_token(token, _keys(keyring), issuer=ISSUER, now=epoch(NOW) + hours * 3600)
        assert cert.serial == serial and cert.title_zh == "单位参保证明"
    assert (cert.facts[0].label_zh, cert.facts[0].value) == ("参保险种", "企业职工基本养老保险")


def test_six_months_later_the_certificate_has_expired(keyring: CertKeyring) -> None:
    """Valid until the same time six calendar months on (2026-12-01 → 2027-06-01), not after."""
    _, data = _issue(keyring)
    token = qr_of(first_page_png(data)).rpartition("#")[2]
    last = dt.datetime(2027, 6, 1, 2, 29, 59)
    assert verify_token(token, _keys(keyring), issuer=ISSUER, now=epoch(last)).serial
    with pytest.raises(PhoneError) as refused:
        verify_token(token, _keys(keyring), issuer=ISSUER, now=epoch(last) + 1)
    assert refused.value.code == "certificate_expired"


def test_one_byte_changed_in_the_payload_is_refused(keyring: CertKeyring) -> None:
    """Every single-character change of the claims part breaks the signature."""
    _, data = _issue(keyring)
    token = qr_of(first_page_png(data)).rpartition("#")[2]
    head, payload, signature = token.split(".")
    for index in (0, len(payload) // 3, len(payload) // 2, len(payload) - 2):
        swapped = "B" if payload[index] == "A" else "A"
        altered = f"{head}.{payload[:index]}{swapped}{payload[index + 1 :]}.{signature}"
        with pytest.raises(PhoneError) as refused:
            verify_token(altered, _keys(keyring), issuer=ISSUER, now=epoch(NOW))
        assert refused.value.code == "certificate_invalid"


def test_a_key_the_portal_never_published_is_refused(keyring: CertKeyring, tmp_path: Path) -> None:
    """Signed by another keyring (even with the same kid): never verifies against the JWKS."""
    stranger = CertKeyring.open(tmp_path / "stranger", now=NOW)
    _, data = _issue(stranger)
    token = qr_of(first_page_png(data)).rpartition("#")[2]
    with pytest.raises(UnknownKey):
        verify_token(token, _keys(keyring), issuer=ISSUER, now=epoch(NOW))
    forged = {stranger.current_record().kid: _keys(keyring)[keyring.current_record().kid]}
    with pytest.raises(PhoneError) as refused:
        verify_token(token, forged, issuer=ISSUER, now=epoch(NOW))
    assert refused.value.code == "certificate_invalid"


def test_a_rotated_key_still_verifies_what_it_signed(keyring: CertKeyring) -> None:
    """After rotation the old key stays published until its certificates have expired;
    retiring it withdraws it (and everything it signed)."""
    old = keyring.current_record().kid
    _, data = _issue(keyring)
    token = qr_of(first_page_png(data)).rpartition("#")[2]
    later = NOW + dt.timedelta(days=30)
    new = keyring.rotate(now=later, alg="Ed25519")
    assert set(_keys(keyring, later)) == {old, new.kid}
    assert verify_token(token, _keys(keyring, later), issuer=ISSUER, now=epoch(later)).kid == old
    _, fresh = _issue(keyring, at=later)
    fresh_token = qr_of(first_page_png(fresh)).rpartition("#")[2]
    assert verify_token(fresh_token, _keys(keyring, later), issuer=ISSUER, now=epoch(later)).kid
    assert old not in _keys(keyring, later + dt.timedelta(days=186))
    keyring.retire(old)
    assert old not in _keys(keyring, later)


def test_another_process_sees_a_rotation(tmp_path: Path) -> None:
    """Two keyrings on one folder (two portal processes): a rotation in one reaches the other."""
    first = CertKeyring.open(tmp_path / "k", now=NOW)
    second = CertKeyring.open(tmp_path / "k", now=NOW)
    new = first.rotate(now=NOW)
    assert second.signing_key()[0].kid == new.kid
    assert len(second.jwks(now=NOW, issuer=ISSUER)["keys"]) == 2


def test_six_calendar_months() -> None:
    """Month ends clamp (08-31 → 02-28); the phone's six-month ceiling covers the longest."""
    assert certificate.add_months(dt.datetime(2026, 8, 31, 9), 6) == dt.datetime(2027, 2, 28, 9)
    assert certificate.add_months(dt.datetime(2026, 12, 1), 6) == dt.datetime(2027, 6, 1)
    longest = max(
        certificate.expires_at(dt.datetime(2026, m, 1)) - dt.datetime(2026, m, 1)
        for m in range(1, 13)
    )
    assert longest <= dt.timedelta(days=184)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=300)
    | st.lists(st.text(alphabet=B64, max_size=60), min_size=3, max_size=3).map(".".join)
)
def test_any_text_given_to_the_portal_verifier_is_claims_or_a_documented_error(
    text: str,
) -> None:
    """The portal's /api/cert/verify core: verified claims, or certificate_invalid / expired."""
    keys = {
        "k": {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "alg": "Ed25519",
        }
    }
    try:
        certificate.verify(text, keys, issuer=ISSUER, now=NOW)
    except PortalError as refused:
        assert refused.code in ("certificate_invalid", "certificate_expired")


def test_two_portals_starting_together_make_one_first_key(tmp_path: Path) -> None:
    """Openers of an empty folder at once (each its own file lock, as separate processes hold)
    agree on a single current key."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path / "shared"
    start = threading.Barrier(6)

    def first_kid(_: int) -> str:
        start.wait()
        return CertKeyring.open(folder, now=NOW).current_record().kid

    with ThreadPoolExecutor(6) as pool:
        kids = list(pool.map(first_kid, range(6)))
    assert len(set(kids)) == 1
    assert [r.kid for r in CertKeyring.open(folder, now=NOW).records] == kids[:1]
