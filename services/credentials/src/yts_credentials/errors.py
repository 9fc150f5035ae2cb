"""What the credentials service refuses, in the programme's words (the chassis' HTTP-free
kinds; ``yts_chassis.refusals`` answers each as problem+json)."""

from __future__ import annotations

import uuid

from yts_chassis.refusals import Breach, Conflict, NotFound


class CredentialNotKnown(NotFound):
    def __init__(self, credential_id: uuid.UUID) -> None:
        super().__init__("credential", credential_id)


class CredentialAlreadyRevoked(Conflict):
    def __init__(self, credential_id: uuid.UUID) -> None:
        super().__init__(
            Breach("credential_id", "not_revoked", f"credential {credential_id} is already revoked")
        )
