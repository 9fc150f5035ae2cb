"""The workspace's own NATS key-value buckets (created by ``yts provision``, which holds their
configuration), so that it runs on several machines with no database:

- ``yts-workspace-people``: ``person.<id>`` a person's account, ``email.<sha256>`` the id
  of the account an address belongs to (created once: an address has one account);
- ``yts-workspace-links``: ``link.<sha256 of the token>`` a one-time sign-in link; the
  bucket's max age (15 minutes) is a link's longest life;
- ``yts-workspace-signins``: ``signin.<sha256 of the cookie>`` a sign-in session; the bucket's
  max age (12 hours) is a session's longest life.
"""

from __future__ import annotations

import hashlib

PEOPLE_BUCKET = "yts-workspace-people"
LINKS_BUCKET = "yts-workspace-links"
SIGNINS_BUCKET = "yts-workspace-signins"
BUCKETS = (PEOPLE_BUCKET, LINKS_BUCKET, SIGNINS_BUCKET)


def digest(secret: str) -> str:
    """What a bucket keeps of a secret (a link's token, a session's cookie): its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()
