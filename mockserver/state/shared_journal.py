"""The journal in Redis, for servers that share one (state/shared.py): one capped stream of the era, so that what
a client sent to any server is read through any. Entries are kept as they are in memory (a request raw, made
readable when read); whether each charge was refunded since is asked of the ledger's charges when read, as a
refund may come later and from another server. --journal-size bounds it; --journal-mib does not (Redis' memory
does, with --journal-body-kib bounding each body).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .journal import Entry, Recorded, matching
from .ledger import Charge
from .shared import PREFIX, SharedState, in_era

# ARGV: prefix, the most entries kept, the entry. Its id.
ADD = in_era("""
local id = redis.call('INCR', base .. 'journal-id')
redis.call('XADD', base .. 'journal', 'MAXLEN', ARGV[2], '*', 'id', id, 'entry', ARGV[3])
return id
""")  # fmt: skip
# ARGV: prefix. Every entry, oldest first, each {id, entry}.
READ = in_era("""
local found = {}
for _, item in ipairs(redis.call('XRANGE', base .. 'journal', '-', '+')) do
  table.insert(found, {item[2][2], item[2][4]})
end
return found
""")  # fmt: skip
CLEAR = in_era("return redis.call('DEL', base .. 'journal')")
BYTE_FIELDS = ("query_string", "response")


class SharedJournal:
    """Journal's interface (state/journal.py), over Redis."""

    def __init__(self, shared: SharedState, size: int) -> None:
        self._shared = shared
        self._size = size
        self._add, self._read, self._clear = shared.script(ADD), shared.script(READ), shared.script(CLEAR)

    def next_id(self) -> int:
        """0: the entry's id is drawn as it is added, in the same round trip."""
        return 0

    def add(self, entry: Entry | Recorded) -> None:
        self._add(args=[PREFIX, self._size, json.dumps(written(entry))])

    def entries(self, profile: str | None = None, path: str | None = None) -> list[Entry | Recorded]:
        found = [read(int(id_), json.loads(entry)) for id_, entry in self._read(args=[PREFIX])]
        self._refresh_refunds([e for e in found if isinstance(e, Recorded)])
        return matching(found, profile, path)

    def clear(self) -> None:
        self._clear(args=[PREFIX])

    def _refresh_refunds(self, recorded: list[Recorded]) -> None:
        charges = [charge for entry in recorded for charge in entry.charges if charge.pending_id is not None]
        pipe = self._shared.redis.pipeline(transaction=False)
        for charge in charges:
            pipe.hget(self._shared.key(f"charge:{charge.pending_id}"), "state")
        for charge, state in zip(charges, pipe.execute(), strict=True):
            charge.refunded = state == "refunded"


def written(entry: Entry | Recorded) -> dict[str, Any]:
    """The entry as JSON, bytes as latin-1 text (which keeps every byte)."""
    if isinstance(entry, Entry):
        return {"entry": entry.as_json()}
    fields = {name: getattr(entry, name) for name in Recorded.__dataclass_fields__ if name != "id"}
    for name in ("raw_headers", "response_headers"):
        fields[name] = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in fields[name]]
    for name in BYTE_FIELDS:
        fields[name] = fields[name].decode("latin-1")
    if isinstance(entry.body, bytes):
        fields["body"] = {"bytes": entry.body.decode("latin-1")}
    else:
        fields["body"] = {"form": entry.body}
    fields["charges"] = [asdict(charge) for charge in entry.charges]
    return {"recorded": fields}


def read(id_: int, kept: dict[str, Any]) -> Entry | Recorded:
    if "entry" in kept:
        return Entry(**{**kept["entry"], "id": id_})
    fields = kept["recorded"]
    for name in ("raw_headers", "response_headers"):
        fields[name] = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in fields[name]]
    for name in BYTE_FIELDS:
        fields[name] = fields[name].encode("latin-1")
    body = fields["body"]
    fields["body"] = body["bytes"].encode("latin-1") if "bytes" in body else body["form"]
    fields["keys"] = tuple(fields["keys"])
    fields["charges"] = tuple(Charge(**charge) for charge in fields["charges"])
    return Recorded(id=id_, **fields)
