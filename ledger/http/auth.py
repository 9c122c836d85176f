"""Who is calling: an API key (Authorization: Bearer lk_..., or X-API-Key) or an OAuth2 bearer JWT.

API keys are looked up by their hash (the key itself is never stored); a revoked key is refused; its last-used
time is written at most once a minute per process; a key checked in the last LEDGER_API_KEY_CACHE_SECONDS is
trusted without asking the database again (so a revocation by another process takes up to that long). JWTs
are verified with PyJWT against the configured public keys (a PEM file, or a JWKS file picked by `kid`): signature,
expiry, issuer and audience; the role comes from a configured claim (a string or a list with one known role), a
customer's accounts from another claim.
Every refusal is a 401 that names no credential.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from ledger.commands.api_keys import CUSTOMER, PREFIX, ROLES, key_hash
from ledger.http.errors import ApiError
from ledger.ports import ApiKeyRecord, ApiRecords
from ledger.settings import Settings

_ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]
_TOUCH_EVERY = 60.0
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ledger"'}


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its role, and for a customer the billing accounts it may see."""

    subject: str  # "key:<key id>" or "jwt:<sub>"
    role: str
    accounts: frozenset[str] | None = None

    def sees(self, account_ref: str) -> bool:
        return self.role != CUSTOMER or (self.accounts is not None and account_ref in self.accounts)


def unauthorized(message: str = "a valid API key or bearer token is needed") -> ApiError:
    return ApiError(401, "unauthorized", message, _CHALLENGE)


class Authenticator:
    def __init__(self, records: ApiRecords, settings: Settings) -> None:
        self.records = records
        self.settings = settings
        self._keys = _jwt_keys(settings)
        self._touched: dict[str, float] = {}
        self._known: dict[str, tuple[ApiKeyRecord, float]] = {}  # key hash -> (record, until when it is trusted)
        self._lock = threading.Lock()

    def cached(self, authorization: str | None, api_key: str | None) -> Caller | None:
        """The caller of an API key checked less than LEDGER_API_KEY_CACHE_SECONDS ago (no I/O), else None."""
        key = api_key.strip() if api_key else _bearer_token(authorization)
        if not key or not key.startswith(PREFIX):
            return None
        found = self._known.get(key_hash(key))
        if found is None or found[1] < time.monotonic():
            return None
        return _caller(found[0])

    def forget(self, key_id: str) -> None:
        """Trust no cached check of this key any more (it was revoked here)."""
        with self._lock:
            self._known = {h: v for h, v in self._known.items() if v[0].key_id != key_id}

    def authenticate(self, authorization: str | None, api_key: str | None) -> Caller:
        if api_key:
            return self._api_key(api_key.strip())
        if not authorization:
            raise unauthorized()
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("use Authorization: Bearer <API key or JWT>")
        return self._api_key(token) if token.startswith(PREFIX) else self._jwt(token)

    def _api_key(self, key: str) -> Caller:
        hashed = key_hash(key)
        record = self.records.key_by_hash(hashed)
        if record is None or record.revoked_at is not None:
            raise unauthorized("unknown or revoked API key")
        if self.settings.api_key_cache_seconds:
            with self._lock:
                if len(self._known) > 10_000:
                    self._known.clear()
                self._known[hashed] = (record, time.monotonic() + self.settings.api_key_cache_seconds)
        now = time.time()
        with self._lock:
            due = now - self._touched.get(record.key_id, 0.0) >= _TOUCH_EVERY
            if due:
                self._touched[record.key_id] = now
        if due:
            self.records.touch_key(record.key_id, now)
        return _caller(record)

    def _jwt(self, token: str) -> Caller:
        if not self._keys:
            raise unauthorized("bearer tokens are not accepted here (no LEDGER_API_JWT_* keys configured)")
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid")) or (next(iter(self._keys.values())) if len(self._keys) == 1 else None)
            if key is None:
                raise unauthorized("the token's signing key is not known")
            claims = jwt.decode(token, key, algorithms=_ASYMMETRIC, audience=s.api_jwt_audience, issuer=s.api_jwt_issuer,
                                options={"require": ["exp"] + (["iss"] if s.api_jwt_issuer else [])
                                         + (["aud"] if s.api_jwt_audience else [])})
        except jwt.PyJWTError as error:
            raise unauthorized(f"invalid bearer token: {type(error).__name__}") from None
        roles = claims.get(s.api_jwt_role_claim)
        known = [r for r in ([roles] if isinstance(roles, str) else roles if isinstance(roles, list) else []) if r in ROLES]
        if len(known) != 1:
            raise unauthorized(f"the token's {s.api_jwt_role_claim!r} claim must name exactly one ledger role")
        role = known[0]
        accounts = None
        if role == CUSTOMER:
            bound = claims.get(s.api_jwt_account_claim)
            accounts = frozenset([bound] if isinstance(bound, str) else bound if isinstance(bound, list) else [])
            if not accounts:
                raise unauthorized(f"a customer token needs its accounts in the {s.api_jwt_account_claim!r} claim")
        return Caller(f"jwt:{claims.get('sub', '?')}", role, accounts)


def _caller(record: ApiKeyRecord) -> Caller:
    return Caller(f"key:{record.key_id}", record.role, record.accounts)


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _jwt_keys(settings: Settings) -> dict[Any, Any]:
    """kid (None for a PEM key) -> verification key, from the configured PEM or JWKS file."""
    keys: dict[Any, Any] = {}
    if settings.api_jwt_public_key_file:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        text = settings.api_jwt_public_key_file.read_bytes()
        blocks = [b"-----BEGIN" + part for part in text.split(b"-----BEGIN")[1:]]
        for n, block in enumerate(blocks):
            keys[None if n == 0 else f"pem-{n}"] = load_pem_public_key(block)
    if settings.api_jwt_jwks_file:
        jwks = jwt.PyJWKSet.from_dict(json.loads(settings.api_jwt_jwks_file.read_text()))
        for k in jwks.keys:
            keys[k.key_id] = k.key
    return keys
