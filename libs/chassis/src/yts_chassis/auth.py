"""Bearer-token auth with roles: admin, coordinator (bound to one school), partner (read-only
reporting). Only SHA-256 hashes of tokens are kept; a token is shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr

from yts_chassis.errors import Problem
from yts_chassis.refusals import NotYourSchool, problem_of

TOKEN_PREFIX = "yts_"


class Role(StrEnum):
    admin = "admin"
    coordinator = "coordinator"
    partner = "partner"


@dataclass(frozen=True)
class Principal:
    role: Role
    label: str
    school_id: uuid.UUID | None = None

    def may_act_for_school(self, school_id: uuid.UUID) -> bool:
        return self.role is Role.admin or (
            self.role is Role.coordinator and self.school_id == school_id
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenRecord:
    sha256: str
    role: Role
    label: str
    school_id: uuid.UUID | None = None
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "role": self.role.value,
            "label": self.label,
            "school_id": str(self.school_id) if self.school_id else None,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TokenRecord:
        school = raw.get("school_id")
        return cls(
            sha256=raw["sha256"],
            role=Role(raw["role"]),
            label=raw.get("label", ""),
            school_id=uuid.UUID(school) if school else None,
            created_at=raw.get("created_at", ""),
        )


class TokenFile:
    """The registry file shared by the services (``yts tokens create`` appends to it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[TokenRecord]:
        if not self.path.exists():
            return []
        raw = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        return [TokenRecord.from_json(item) for item in raw.get("tokens", [])]

    def create(self, role: Role, label: str, school_id: uuid.UUID | None = None) -> str:
        """Store the hash of a new token and return the token itself (shown once)."""
        if role is Role.coordinator and school_id is None:
            raise ValueError("a coordinator token is bound to a school: give its id")
        if role is not Role.coordinator and school_id is not None:
            raise ValueError("only coordinator tokens are bound to a school")
        token = generate_token()
        record = TokenRecord(
            sha256=hash_token(token),
            role=role,
            label=label,
            school_id=school_id,
            created_at=datetime.now(UTC).isoformat(),
        )
        records = [*self.read(), record]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"tokens": [r.to_json() for r in records]}, indent=2), encoding="utf-8"
        )
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        return token


class TokenRegistry:
    """Answers "who holds this token?"; re-reads the token file when it changes."""

    def __init__(
        self, admin_token: SecretStr | None = None, tokens_file: Path | None = None
    ) -> None:
        self._admin_hash = hash_token(admin_token.get_secret_value()) if admin_token else None
        self._file = TokenFile(tokens_file) if tokens_file else None
        self._records: dict[str, TokenRecord] = {}
        self._version: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        if self._file is None:
            return
        try:
            stat = self._file.path.stat()
        except FileNotFoundError:
            self._records, self._version = {}, None
            return
        # The file is replaced atomically on every change: a new inode even when two writes
        # fall within the file system's timestamp granularity.
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if version != self._version:
                self._records = {r.sha256: r for r in self._file.read()}
                self._version = version

    def identify(self, token: str) -> Principal | None:
        digest = hash_token(token)
        if self._admin_hash and hmac.compare_digest(digest, self._admin_hash):
            return Principal(role=Role.admin, label="bootstrap admin")
        self._refresh()
        record = self._records.get(digest)
        if record is None:
            return None
        return Principal(role=record.role, label=record.label, school_id=record.school_id)


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def require_roles(*roles: Role) -> Callable[..., Any]:
    """A FastAPI dependency: 401 without a valid token, 403 for another role."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        registry: TokenRegistry = request.app.state.tokens
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401,
                "Authentication required",
                "Send `Authorization: Bearer <token>`; ask programme staff for one.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = registry.identify(credentials.credentials)
        if principal is None:
            raise Problem(
                401,
                "Unknown token",
                "The bearer token is not valid (revoked or mistyped).",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Problem(
                403,
                "Not allowed for this role",
                f"This action needs the role {allowed}; your token is {principal.role}.",
            )
        return principal

    return dependency


def caller_identity(request: Request) -> str | None:
    """Who sent the request, as the SHA-256 of its bearer token when that token is valid; None
    otherwise. One id per token: two tokens of one role, label or school are two callers."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    registry: TokenRegistry = request.app.state.tokens
    if registry.identify(token) is None:
        return None
    return hash_token(token)


def ensure_school_access(principal: Principal, school_id: uuid.UUID) -> None:
    if not principal.may_act_for_school(school_id):
        raise problem_of(NotYourSchool(school_id))


def school_scope(principal: Principal, school_id: uuid.UUID | None) -> uuid.UUID | None:
    """The school a list is limited to: what was asked for, and for a coordinator always
    their own school (asking for another is a 403, not an empty list)."""
    if principal.role is not Role.coordinator:
        return school_id
    if school_id is not None:
        ensure_school_access(principal, school_id)
    return principal.school_id
