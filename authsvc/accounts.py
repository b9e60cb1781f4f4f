"""Asking a relying portal which accounts a person has there (the login, step 6).

authsvc POSTs a JWT signed with its token key (`typ: accounts-request+jwt`) to the client's
registered accounts endpoint; the portal verifies it against our JWKS and answers."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import aiohttp
from joserfc import jwt

from authsvc import errors
from authsvc.clients import Client
from authsvc.core.ecard import Card
from authsvc.core.tickets import Identity
from authsvc.keyring import Keyring, Purpose

log = logging.getLogger(__name__)
REQUEST_TYP = "accounts-request+jwt"
ROLES = {"personal", "legal_rep", "admin", "agent", "staff"}


def personal_account(card: Card) -> dict[str, Any]:
    return {"key": "personal:", "role": "personal", "name": card.name}


class AccountsProvider:
    def __init__(self, keyring: Keyring, issuer: str, timeout: float) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _request_token(self, client: Client, card: Card, identity: Identity, now: float) -> str:
        record, key = self._keyring.jose_signing_key(Purpose.TOKEN)
        claims = {
            "iss": self._issuer,
            "aud": client.client_id,
            "iat": int(now),
            "exp": int(now + 60),
            "jti": secrets.token_urlsafe(16),
            "name": card.name,
            "id_number": card.id_number,
            "identity": str(identity),
        }
        header = {"alg": str(record.alg), "kid": record.kid, "typ": REQUEST_TYP}
        return jwt.encode(header, claims, key, algorithms=[str(record.alg)])

    async def accounts_for(
        self, client: Client, card: Card, identity: Identity, now: float
    ) -> list[dict[str, Any]]:
        """The accounts to offer, or NoAccount with the portal's message, or AccountsUnavailable."""
        if not client.accounts_endpoint:
            if identity is Identity.PERSONAL:
                return [personal_account(card)]
            raise errors.NoAccount("client has no accounts endpoint")
        body = await self._call(client, self._request_token(client, card, identity, now))
        return _accounts_from(body)

    async def _call(self, client: Client, token: str) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        try:
            async with self._session.post(
                client.accounts_endpoint, data=token, headers={"Content-Type": "application/jwt"}
            ) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise errors.AccountsUnavailable(f"{client.client_id}: {exc!r}"[:200]) from exc
        if status == 200 and isinstance(body, dict):
            return body
        if (
            status in (403, 404)
            and isinstance(body, dict)
            and isinstance(body.get("message"), dict)
        ):
            message = body["message"]
            raise errors.NoAccount(
                str(body.get("error", "")),
                zh=str(message.get("zh", "")) or None,
                en=str(message.get("en", "")) or None,
            )
        raise errors.AccountsUnavailable(f"{client.client_id} answered {status}")


def _accounts_from(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("accounts")
    if not isinstance(raw, list):
        raise errors.AccountsUnavailable("no accounts list")
    accounts = []
    for item in raw[:50]:
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            continue
        account = dict(item)
        account["key"] = f"{account['role']}:{account.get('credit_code', '')}"
        accounts.append(account)
    if not accounts:
        raise errors.NoAccount("empty accounts list")
    return accounts
