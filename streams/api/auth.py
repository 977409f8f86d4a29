"""Bearer-token authentication and account scoping.

Two kinds of token (``Authorization: Bearer <token>``):

* the **operator** token sees and changes everything;
* an **account** token sees its account and the accounts below it in the parent hierarchy (its children,
  their children, ...), and nothing else.

A request without a valid token gets ``401``; a valid token reaching outside its scope gets ``403``.  Both
carry a JSON body ``{"error": {"code": ..., "message": ...}}`` like every other API error.

Tokens come from the environment (``RATER_OPERATOR_TOKEN``, ``RATER_ACCOUNT_TOKENS`` as
``token=ACCOUNT,token=ACCOUNT``); they are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from rater.subscriptions import Subscriptions
from streams.api.errors import api_error

#: The challenge a ``401`` carries (RFC 6750).
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rater"'}

PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("rater_principal", object)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the operator (``account is None``) or one account's app."""

    account: str | None

    @property
    def operator(self) -> bool:
        return self.account is None


@dataclass(frozen=True)
class Tokens:
    """The accepted tokens.  ``repr`` never shows them."""

    operator: str | None = field(default=None, repr=False)
    accounts: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, operator: str | None, accounts: str | None) -> Tokens:
        """``accounts`` is ``token=ACCOUNT[,token=ACCOUNT...]``."""
        table: dict[str, str] = {}
        for entry in (accounts or "").split(","):
            item = entry.strip()
            if not item:
                continue
            token, sep, account = item.partition("=")
            if not sep or not token.strip() or not account.strip():
                raise ValueError("RATER_ACCOUNT_TOKENS entries are token=ACCOUNT")
            table[token.strip()] = account.strip()
        return cls(operator or None, table)

    def principal(self, token: str) -> Principal | None:
        """The principal ``token`` stands for, or ``None``; every candidate is compared in constant time."""
        found: Principal | None = None
        if self.operator is not None and hmac.compare_digest(token.encode(), self.operator.encode()):
            found = Principal(None)
        for candidate, account in self.accounts.items():
            if hmac.compare_digest(token.encode(), candidate.encode()):
                found = Principal(account)
        return found


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: web.Request, tokens: Tokens) -> Principal:
    """The request's principal, or a ``401`` error."""
    token = bearer(request)
    if token is None:
        raise api_error(
            401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)", headers=CHALLENGE
        )
    principal = tokens.principal(token)
    if principal is None:
        raise api_error(401, "unauthorized", "the bearer token is not valid", headers=CHALLENGE)
    return principal


def principal_of(request: web.Request) -> Principal:
    """The principal the auth middleware attached to ``request``."""
    return request[PRINCIPAL]


def in_scope(principal: Principal, account: str, subscriptions: Subscriptions) -> bool:
    """True when ``principal`` may see ``account``: the operator always; an account for itself and every
    account whose parent chain reaches it."""
    if principal.operator or principal.account == account:
        return True
    holder = subscriptions.accounts.get(account)
    if holder is None:
        return False
    return any(parent.id == principal.account for parent in subscriptions.parents(holder))


def require_account(request: web.Request, account: str, subscriptions: Subscriptions) -> None:
    """``403`` unless the caller may see ``account``."""
    if not in_scope(principal_of(request), account, subscriptions):
        raise api_error(403, "forbidden", f"this token may not see account {account}")


def require_operator(request: web.Request) -> None:
    """``403`` unless the caller holds the operator token."""
    if not principal_of(request).operator:
        raise api_error(403, "forbidden", "this operation needs the operator token")
