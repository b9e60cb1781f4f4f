"""Pure rules: GB 11643 ID numbers, GB 32100 credit codes, phones, role limits, modules."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import errors
from portal.rules import creditcode, idcard, items, phone, registration, roles, uploads
from portal.rules.registration import Application, RegistryRecord, Relationship

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    "number",
    ["230102197503121019", "23010219881130134X", "23010219881130134x", "11010519491231002X"],
)
def test_valid_id_numbers(number: str) -> None:
    """Valid GB 11643 numbers pass, a lower-case x is normalized."""
    assert idcard.validate(number, today=TODAY) == number.upper()


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("230102197503121018", "check_digit"),
        ("23010219750312101", "length"),
        ("2301021975031210190", "length"),
        ("23010219750312101A", "characters"),
        ("990102197503121019", "region"),
        ("230102197502301019", "birth_date"),  # 30 February
        ("230102203001011234", "birth_date"),  # in the future
        ("230102180001011234", "birth_date"),  # before 1900
    ],
)
def test_invalid_id_numbers(number: str, why: str) -> None:
    """Each failed check has its own private reason and the public invalid_id_number code."""
    assert idcard.problem(number, today=TODAY) == why
    with pytest.raises(errors.InvalidIdNumber):
        idcard.validate(number, today=TODAY)


@given(st.text(max_size=30))
def test_id_validation_never_crashes(value: str) -> None:
    """Any text either validates or raises the documented error."""
    with contextlib.suppress(errors.InvalidIdNumber):
        idcard.validate(value, today=TODAY)


@pytest.mark.parametrize(
    "code", ["91230100MA1BX2K306", "12230000MB0N4R8P09", "91350100M000100Y43", "91230100ma1bx2k306"]
)
def test_valid_credit_codes(code: str) -> None:
    """Valid GB 32100 codes pass (lower case normalized)."""
    assert creditcode.validate(code) == code.upper()


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91230100MA1BX2K307", "check_character"),
        ("91230100MA1BX2K30", "length"),
        ("91230100MA1BX2KI06", "characters"),  # I is not in the alphabet
        ("91ABCDEFMA1BX2K306", "region"),
    ],
)
def test_invalid_credit_codes(code: str, why: str) -> None:
    """A wrong check character, length, alphabet or region is refused."""
    assert creditcode.problem(code) == why
    with pytest.raises(errors.InvalidCreditCode):
        creditcode.validate(code)


@given(st.text(alphabet=creditcode.ALPHABET, min_size=17, max_size=17))
def test_check_character_round_trip(first17: str) -> None:
    """The computed check character always makes a valid code; any other one does not."""
    good = first17 + creditcode.check_character(first17)
    bad = first17 + next(c for c in creditcode.ALPHABET if c != good[-1])
    if good[2:8].isdigit():
        assert creditcode.is_valid(good)
    assert not creditcode.is_valid(bad)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("13804510001", True),
        ("0451-86661234", True),
        ("045186661234", True),
        ("12345678901", False),
        ("1380451000", False),
        ("abc", False),
        ("", False),
    ],
)
def test_phones(value: str, ok: bool) -> None:
    """Mainland mobiles and landlines with area code are accepted."""
    assert phone.is_valid(value) is ok


def test_agent_limit() -> None:
    """Seed 002: at most ten agents — the eleventh is refused."""
    roles.check_can_add_agent(9)
    with pytest.raises(errors.AgentLimitReached):
        roles.check_can_add_agent(10)


def test_admin_limit() -> None:
    """Seed 002: at most one administrator per company."""
    roles.check_can_add_admin(0)
    with pytest.raises(errors.AdminLimitReached):
        roles.check_can_add_admin(1)


def test_agents_have_no_edit_or_authorize_module() -> None:
    """Seed 000 §3.1.1: 经办人用户中心内无“修改资料”及“授权登录”模块."""
    agent = roles.modules_for(roles.Role.AGENT)
    assert roles.Module.EDIT_PROFILE not in agent and roles.Module.AUTHORIZE not in agent
    assert roles.Module.AUTHORIZE in roles.modules_for(roles.Role.LEGAL_REP)
    with pytest.raises(errors.ModuleForbidden):
        roles.require_module(roles.Role.AGENT, roles.Module.AUTHORIZE)


REC = RegistryRecord(
    "enterprise_pension",
    "91230100MA1BX2K306",
    "甲公司",
    "230102197503121019",
    "王建国",
    relationships=(Relationship("1", "养老", "A"),),
)


def _app(**over: str) -> Application:
    base = dict(
        credit_code=REC.credit_code,
        company_name="甲公司",
        legal_rep_id_type="居民身份证",
        legal_rep_id_number="230102197503121019",
        legal_rep_name="王建国",
    )
    base.update(over)
    return Application(**base)


@pytest.mark.parametrize(
    ("application", "records", "registered", "error"),
    [
        (_app(), [], False, errors.RegistryVerificationFailed),
        (_app(company_name="乙公司"), [REC], False, errors.RegistryVerificationFailed),
        (_app(legal_rep_name="王建"), [REC], False, errors.RegistryVerificationFailed),
        (_app(), [REC], True, errors.LegalRepAccountExists),
    ],
)
def test_registration_outcomes(application, records, registered, error) -> None:
    """Seed 000 §5.1.1: every failed registry check answers the one 验证失败 message (no oracle
    of which field matched); an existing account answers §5.1.2."""
    with pytest.raises(error):
        registration.decide(application, records, already_registered=registered)


def test_registration_merges_relationships() -> None:
    """A company known to several registries gets all their relationships once."""
    market = RegistryRecord(
        "market", REC.credit_code, "甲公司", REC.legal_rep_id_number, "王建国", address="哈尔滨"
    )
    verified = registration.decide(_app(), [market, REC, REC], already_registered=False)
    assert verified.address == "哈尔滨" and len(verified.relationships) == 1


def test_uploads_by_magic_bytes() -> None:
    """PNG/JPEG/PDF by content, not by name; too large and wrong type refused."""
    assert uploads.check(b"%PDF-1.7 ...", max_bytes=100)[0] == "application/pdf"
    assert uploads.check(b"\x89PNG\r\n\x1a\n....", max_bytes=100)[0] == "image/png"
    with pytest.raises(errors.UploadTooLarge):
        uploads.check(b"%PDF-" + b"x" * 100, max_bytes=100)
    with pytest.raises(errors.UploadBadType):
        uploads.check(b"MZ\x90\x00 not a picture", max_bytes=100)


def test_business_items() -> None:
    assert items.validate(["stop", "enrol", "stop"]) == ["enrol", "stop"]
    with pytest.raises(errors.UnknownBusinessItem):
        items.validate(["nope"])


def test_demo_data_is_valid() -> None:
    """Every ID number and credit code in the demo and registry data carries a valid check."""
    data = Path(__file__).parents[2] / "portal" / "data"
    text = (data / "demo.json").read_text() + (data / "registries.json").read_text()
    for value in json.loads(json.dumps(text)).split('"'):
        if len(value) == 18 and value[:2] in ("23",) and value[:17].isdigit():
            assert idcard.is_valid(value, today=TODAY), value
        if len(value) == 18 and value[:2] in ("91", "12"):
            assert creditcode.is_valid(value), value


def _all_errors(cls: type[errors.PortalError]) -> list[type[errors.PortalError]]:
    return [cls] + [d for sub in cls.__subclasses__() for d in _all_errors(sub)]


def test_error_registry_codes_are_unique() -> None:
    """Every error class has its own code, and the registry maps that code to that class (a
    second class reusing a code would replace the first in the dict: counted here)."""
    classes = _all_errors(errors.PortalError)
    codes = [c.code for c in classes]
    assert len(classes) > 30
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    assert all(errors.REGISTRY[c.code] is c for c in classes)
    assert all(c.zh and c.en and 400 <= c.status < 600 for c in classes)
