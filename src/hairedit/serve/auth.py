"""API keys and what each key may do.

The keys file holds one key a line, ``NAME SHA256``: the name (who the key was given to, what
the logs and a key's jobs are filed under) and the SHA-256 of the key. Keys are 256 random
bits, so a plain hash is as good as a slow one; the key itself is shown once, when made
(``hairedit serve keys add NAME``), and never stored. A key presented is hashed and compared
with every stored hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from pathlib import Path

from ..errors import InputError

KEY_PREFIX = "hk_"
ANONYMOUS = "anonymous"  # the owner of every job under --no-auth
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def read_keys(path: Path) -> dict[str, str]:
    """{name: hash}; InputError naming the line of a malformed file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(f"--keys-file {path}: cannot read it ({error.strerror or error}); make one with "
                         "`hairedit serve keys add NAME`.") from None
    keys: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not NAME.fullmatch(parts[0]) or not re.fullmatch(r"[0-9a-f]{64}", parts[1]):
            raise InputError(f"{path}, line {number}: expected NAME SHA256 (as `hairedit serve keys add` writes).")
        if parts[0] in keys:
            raise InputError(f"{path}, line {number}: the name {parts[0]} is used twice.")
        keys[parts[0]] = parts[1]
    if not keys:
        raise InputError(f"{path} holds no keys; add one with `hairedit serve keys add NAME --keys-file {path}`.")
    return keys


def add_key(path: Path, name: str) -> str:
    """Make a key for ``name``, store its hash in ``path`` (created, readable by its owner
    only) and return the key: the only time it is seen."""
    if not NAME.fullmatch(name):
        raise InputError(f"key name {name!r}: use 1 to 64 letters, digits, '_', '-', '.' or '@'.")
    path = Path(path)
    if path.exists() and name in read_keys(path):
        raise InputError(f"{path} already has a key named {name}; choose another name.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(f"{name} {key_hash(key)}\n")
    return key


class Keys:
    """Who a request's key belongs to; every job is filed under that name. The keys file is
    read again when it changes, so keys are added and removed without a restart."""

    def __init__(self, path: Path | None):
        self.path = path  # None: no authentication, every caller is ANONYMOUS
        self.keys = read_keys(path) if path is not None else {}
        self.stamp = _stamp(path)

    def owner(self, presented: str | None) -> str | None:
        if self.path is None:
            return ANONYMOUS
        if not presented:
            return None
        stamp = _stamp(self.path)
        if stamp != self.stamp:
            try:
                self.keys, self.stamp = read_keys(self.path), stamp
            except InputError:  # being rewritten, or broken: keep the keys read before
                pass
        digest = key_hash(presented)
        found = None
        for name, stored in self.keys.items():  # no early exit: the time says nothing of which key matched
            if hmac.compare_digest(stored, digest):
                found = name
        return found


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except (OSError, TypeError):
        return None
    return status.st_mtime_ns, status.st_size


class RateLimit:
    """A token bucket per key: ``per_minute`` submissions a minute, in bursts of as many."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}  # owner -> (tokens, when)

    def take(self, owner: str) -> float:
        """0 when allowed (a token taken), else the seconds until the next token."""
        rate = self.per_minute / 60.0
        with self.lock:
            now = time.monotonic()
            tokens, when = self.buckets.get(owner, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - when) * rate)
            if tokens < 1.0:
                self.buckets[owner] = (tokens, now)
                return (1.0 - tokens) / rate
            self.buckets[owner] = (tokens - 1.0, now)
            return 0.0
