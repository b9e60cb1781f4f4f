"""Where RedisStore keeps what: the one place key names (and their hash tags) are built.

On one Redis every name is `{prefix}{kind}:{name}`, as it always was. On a Redis Cluster a Lua
script may only touch keys of one hash slot, so everything one ticket transition touches — the
ticket hash, the set of processes holding its listeners, their event channels for its shard and
its shard's audit stream — carries the same hash tag `{sNN}`: `{prefix}{sNN}:t:{id}`,
`{prefix}{sNN}:th:{id}`, `{prefix}{sNN}:events:{process}`, `{prefix}{sNN}:audit`. A ticket's shard
is a stable hash of its id; the shard tags are chosen so that shard i hashes into the i-th
equal range of the 16384 slots, which spreads them evenly over any contiguous slot allocation
(`redis-cli --cluster create` makes one). Keys of one record that need a script of their own
follow the same rule with their own tag (`tagged`, e.g. `{person:…}`); single-key values need
no tag (`plain`).
"""

from __future__ import annotations

import binascii
import zlib
from dataclasses import dataclass, field
from functools import cache

SLOTS = 16384
CLUSTER_SHARDS = 32


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM, Redis Cluster's key hash (cluster spec, "Keys distribution model"):
    binascii's CRC-CCITT from 0 is that CRC, in C (the bitwise loop in Python took ~36 µs for a
    nonce's key, and the cluster client hashes every command's key)."""
    return binascii.crc_hqx(data, 0)


def key_slot(key: str) -> int:
    """The hash slot of `key`, honouring a non-empty `{tag}`."""
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16(raw) % SLOTS


@cache
def shard_tag(shard: int, shards: int) -> str:
    """A tag `sNN.k` whose slot falls in the shard's equal range of the slot space."""
    low, high = shard * SLOTS // shards, (shard + 1) * SLOTS // shards
    k = 0
    while True:
        tag = f"s{shard:02d}.{k}"
        if low <= crc16(tag.encode()) % SLOTS < high:
            return tag
        k += 1


@dataclass(frozen=True)
class KeyLayout:
    prefix: str
    shards: int = 1  # 1: one Redis, the historical names; more: a Redis Cluster
    tags: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.shards > 1 and ("{" in self.prefix or "}" in self.prefix):
            raise ValueError(f"a Redis Cluster key prefix may not hold braces: {self.prefix!r}")
        tags = tuple(shard_tag(i, self.shards) for i in range(self.shards))
        object.__setattr__(self, "tags", tags)

    @property
    def clustered(self) -> bool:
        return self.shards > 1

    def shard_of(self, ticket_id: str) -> int:
        return zlib.crc32(ticket_id.encode()) % self.shards

    def plain(self, kind: str, name: str) -> str:
        """A key that no script shares with another: any slot will do."""
        return f"{self.prefix}{kind}:{name}"

    def tagged(self, tag: str, kind: str, name: str = "") -> str:
        """A key in the slot of `tag` (on one Redis the tag is kept out of the name)."""
        if not self.clustered:
            return f"{self.prefix}{kind}:{name}" if name else f"{self.prefix}{kind}"
        return f"{self.prefix}{{{tag}}}:{kind}:{name}" if name else f"{self.prefix}{{{tag}}}:{kind}"

    def ticket(self, ticket_id: str) -> str:
        return self.tagged(self.tags[self.shard_of(ticket_id)], "t", ticket_id)

    def holders(self, ticket_id: str) -> str:
        """The set of processes holding a listener for the ticket (its events go to them)."""
        return self.tagged(self.tags[self.shard_of(ticket_id)], "th", ticket_id)

    def channel(self, shard: int, process: str) -> str:
        """Where a process receives the events of the shard's tickets it holds listeners for."""
        return self.channel_prefix(shard) + process

    def channel_prefix(self, shard: int) -> str:
        return self.tagged(self.tags[shard], "events") + ":"

    def audit(self, shard: int) -> str:
        return self.tagged(self.tags[shard], "audit")

    def channels(self, process: str) -> list[str]:
        return [self.channel(i, process) for i in range(self.shards)]


# The OIDC side's record names, shared by every backend (on Redis under `v:`, `o:` as values
# and `add_once` markers always were). A code and its "used" marker share the hash tag of the
# code's hash, so redeeming one and leaving the other is one script on a Redis Cluster.


def authorization_request(request_id: str) -> str:
    return f"authreq:{request_id}"


def code(code_hash: str) -> str:
    return "code:{" + code_hash + "}"


def used_code(code_hash: str) -> str:
    return "usedcode:{" + code_hash + "}"


def revoked_code(code_hash: str) -> str:
    return f"revokedcode:{code_hash}"


def access_token(token_hash: str) -> str:
    return f"at:{token_hash}"


def ticket_tokens(ticket_id: str) -> str:
    return f"ticket-tokens:{ticket_id}"


def sid_tokens(sid: str) -> str:
    return f"sid-tokens:{sid}"


def person_sessions(person: str) -> str:
    return f"person-sessions:{person}"


def face_challenge(challenge_id: str) -> str:
    return f"face-challenge:{challenge_id}"


def face_lock(person: str, day: str) -> str:
    return f"face-locked:{person}:{day}"


def assertion(client_id: str, jti: str) -> str:
    return f"assertion:{client_id}:{jti}"
