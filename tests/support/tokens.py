"""Signing keys and bearer JWTs for the API's tests (RSA via cryptography, tokens via PyJWT)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER, AUDIENCE = "https://idp.test/", "ledger-api"


class Signer:
    """An RSA key pair: its public half written as PEM and as a JWKS file, tokens signed with the private half."""

    def __init__(self, folder: Path, kid: str = "k1") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        self.pem = folder / f"{kid}.pem"
        self.pem.write_bytes(self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = folder / f"{kid}.jwks.json"
        self.jwks.write_text(json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}))

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "someone", "iat": now, "exp": now + 300, **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.key, algorithm="RS256",
                          headers={"kid": self.kid})


def jwt_settings(signer: Signer, jwks: bool = False) -> dict[str, Any]:
    key = {"api_jwt_jwks_file": signer.jwks} if jwks else {"api_jwt_public_key_file": signer.pem}
    return {**key, "api_jwt_issuer": ISSUER, "api_jwt_audience": AUDIENCE}
