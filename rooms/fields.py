"""Secrets at rest: vendor credentials are stored encrypted with Fernet."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def _fernet() -> Fernet:
    # A Fernet key is 32 url-safe base64 bytes; derive it so any length of secret works.
    digest = hashlib.sha256(settings.FIELD_ENCRYPTION_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """A dict stored as a Fernet token; reads back as a dict, never as ciphertext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        if not value:
            return {}
        try:
            return dict(json.loads(_fernet().decrypt(value.encode())))
        except InvalidToken as exc:
            raise ValueError("credentials cannot be decrypted: FIELD_ENCRYPTION_KEY changed") from exc

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return dict(json.loads(value))

    def get_prep_value(self, value: Any) -> str:
        return _fernet().encrypt(json.dumps(value or {}, sort_keys=True).encode()).decode()


def mask(secret: str) -> str:
    """Show enough of a secret to recognise it, never the whole of it."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"{secret[:3]}…{secret[-4:]}"
