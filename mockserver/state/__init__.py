"""Everything the mock remembers between requests, in one object that the control API can reset.

With --data-dir, the accounts, the ledger, the jobs and the generated files are kept in a store on
disk as well, and a new server on the same folder starts from them. With --state, they and the journal, the queued
faults, the clock, the latency, the webhook registrations, the rate figures, the files clients upload and the
gallery are kept in Redis instead (the shared_* modules, each with its in-memory twin's interface), for every
server on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from ..settings import Settings
from .clock import Clock
from .faults import FaultQueue
from .files import FileStore
from .gallery import Gallery
from .ids import Ids
from .jobs import Jobs
from .journal import Journal
from .ledger import MAX_KEY_LENGTH, Account, Ledger
from .metrics import Metrics
from .rates import RequestCounter
from .renderings import Renderer
from .shared import UNAVAILABLE, SharedClock, SharedHash, SharedState
from .shared_faults import SharedFaultQueue
from .shared_files import SharedFileStore
from .shared_gallery import SharedGallery
from .shared_jobs import SharedJobs
from .shared_journal import SharedJournal
from .shared_ledger import SharedLedger
from .shared_rates import SharedRequestCounter
from .shared_uploads import SharedUploads
from .store import Store
from .uploads import Uploads
from .webhooks import Signer, Webhooks

EVERY_PROFILE = "*"  # the latency added to every profile's answers, unless it has its own
GALLERY_COUNT = 100  # images kept for the dashboard and for tests that ask what a client received


class State:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(Path(settings.data_dir)) if settings.data_dir else None
        self.shared = SharedState(settings.state) if settings.state else None
        self.metrics = Metrics()  # a reset keeps it
        self.ids = Ids(settings.seed, self.shared.number if self.shared else self.store.boot if self.store else 1)
        if self.shared:
            self.clock: Clock = SharedClock(self.shared, settings.frozen_clock)
            self.ledger: Ledger | SharedLedger = SharedLedger(
                self.shared, self.clock, settings.credits, settings.strict_keys, settings.accounts, self.metrics
            )
            self.faults: FaultQueue | SharedFaultQueue = SharedFaultQueue(self.shared)
            self.usage: RequestCounter | SharedRequestCounter = SharedRequestCounter(self.shared, self.clock)
            self.journal: Journal | SharedJournal = SharedJournal(self.shared, settings.journal_size)
            self.files: FileStore | SharedFileStore = SharedFileStore(self.shared, settings.files_max_count)
            self.jobs: Jobs | SharedJobs = SharedJobs(self.shared, self.clock, self.ids, settings.jobs_max_count)
            self.uploads: Uploads | SharedUploads = SharedUploads(self.shared, settings.files_max_count)
            self.gallery: Gallery | SharedGallery = SharedGallery(
                self.shared, self.clock, GALLERY_COUNT, settings.image_cache_bytes
            )
            self.latency: MutableMapping[str, Any] = SharedHash(self.shared, "latency")
            self.webhooks = Webhooks(settings, self.clock, self.journal, SharedHash(self.shared, "webhooks"),
                                     Signer(self.shared.signing_key))  # fmt: skip
        else:
            self.clock = Clock(settings.frozen_clock, self.store)
            self.ledger = Ledger(self.clock, settings.credits, settings.strict_keys, settings.accounts, self.store,
                                 settings.accounts_max_count, self.metrics)  # fmt: skip
            self.faults = FaultQueue()
            self.usage = RequestCounter(self.clock)
            self.journal = Journal(settings.journal_size, settings.journal_bytes)
            self.files = FileStore(settings.files_max_count, settings.files_max_bytes, self.store)
            self.jobs = Jobs(self.clock, self.ids, settings.jobs_max_count, self.store)
            self.uploads = Uploads(settings.files_max_count, settings.files_max_bytes)
            self.gallery = Gallery(self.clock, GALLERY_COUNT, settings.image_cache_bytes)
            self.latency = {}
            self.webhooks = Webhooks(settings, self.clock, self.journal)
        self.metrics.count_jobs(self.jobs.statuses)
        self.renderer = Renderer(settings.image_cache_bytes, self.gallery, settings.workers, self.metrics)  # kept too

    def reset(self) -> None:
        """Back to how the server started: config-file accounts only, nothing recorded, queued, stored or
        running (webhook registrations and deliveries included)."""
        self.clock.reset()
        self.ledger.reset()
        self.journal.clear()
        self.files.clear()
        self.uploads.clear()
        self.faults.clear()
        self.usage.clear()
        self.ids.reset()
        self.jobs.clear()
        self.webhooks.clear()
        self.gallery.clear()
        self.latency.clear()

    def call_start(self, api_keys: set[str]) -> tuple[bool, dict[str, Account]]:
        """Whether a fault is queued, which a call asks first. With a shared state, the same round trip reads what the
        call reads next (the clock, the latency, and the accounts of the API keys it gives: those it finds), so that
        it need not ask for them again."""
        if not self.shared:
            return bool(self.faults), {}
        assert isinstance(self.clock, SharedClock) and isinstance(self.latency, SharedHash)
        asked = [api_key for api_key in api_keys if len(api_key) <= MAX_KEY_LENGTH]
        queued, offset, latency, accounts = self.shared.call_start(asked)
        self.clock.prime(offset)
        self.latency.prime(latency)
        found = {api_key: SharedLedger.account_of_hash(flat) for api_key, flat in zip(asked, accounts, strict=True)}
        return queued > 0, {api_key: account for api_key, account in found.items() if account}

    def read_afresh(self) -> None:
        """With a shared state, read the clock and the latency from Redis when next asked for, as a request other than
        a service's call does (the control API, a file): not what a call that began a moment ago read."""
        if isinstance(self.clock, SharedClock) and isinstance(self.latency, SharedHash):
            self.clock.forget()
            self.latency.forget()

    def set_latency(self, profile: str | None, milliseconds: int) -> None:
        """Add `milliseconds` to the answers of `profile` (None: of every profile without its own)."""
        self.latency[profile or EVERY_PROFILE] = milliseconds

    def latency_ms(self, profile: str) -> int:
        """The latency added to the profile's answers: set through the control API, else --latency."""
        return int(self.latency.get(profile, self.latency.get(EVERY_PROFILE, self.settings.latency)))

    def close(self) -> None:
        """What the server does as it stops: webhook deliveries and image workers stopped, the store closed."""
        self.webhooks.stop()
        self.renderer.workers.close()
        if self.store:
            self.store.close()
        if self.shared:
            with contextlib.suppress(*UNAVAILABLE):
                self.shared.flush()  # settlements not yet sent, before the lease refunds the charges left
            self.shared.close()
