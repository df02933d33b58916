"""Everything the mock remembers between requests, in one object that the control API can reset.

With --data-dir, the accounts, the ledger, the jobs and the generated files are kept in a store on
disk as well, and a new server on the same folder starts from them.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings
from .clock import Clock
from .faults import FaultQueue
from .files import FileStore
from .gallery import Gallery
from .ids import Ids
from .jobs import Jobs
from .journal import Journal
from .ledger import Ledger
from .metrics import Metrics
from .rates import RequestCounter
from .renderings import Renderer
from .shared import SharedClock, SharedState
from .shared_faults import SharedFaultQueue
from .shared_ledger import SharedLedger
from .shared_rates import SharedRequestCounter
from .store import Store
from .uploads import Uploads
from .webhooks import Webhooks

GALLERY_COUNT = 100  # images kept for the dashboard and for tests that ask what a client received


class State:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(Path(settings.data_dir)) if settings.data_dir else None
        self.shared = SharedState(settings.state) if settings.state else None
        self.metrics = Metrics()  # a reset keeps it
        if self.shared:
            self.clock: Clock = SharedClock(self.shared, settings.frozen_clock)
            self.ledger: Ledger | SharedLedger = SharedLedger(
                self.shared, self.clock, settings.credits, settings.strict_keys, settings.accounts, self.metrics
            )
            self.faults: FaultQueue | SharedFaultQueue = SharedFaultQueue(self.shared)
            self.usage: RequestCounter | SharedRequestCounter = SharedRequestCounter(self.shared, self.clock)
        else:
            self.clock = Clock(settings.frozen_clock, self.store)
            self.ledger = Ledger(self.clock, settings.credits, settings.strict_keys, settings.accounts, self.store,
                                 settings.accounts_max_count, self.metrics)  # fmt: skip
            self.faults = FaultQueue()
            self.usage = RequestCounter(self.clock)
        self.journal = Journal(settings.journal_size, settings.journal_bytes)
        self.files = FileStore(settings.files_max_count, settings.files_max_bytes, self.store)
        self.uploads = Uploads(settings.files_max_count, settings.files_max_bytes)
        self.ids = Ids(settings.seed, self.store.boot if self.store else 1)
        self.jobs = Jobs(self.clock, self.ids, settings.jobs_max_count, self.store)
        self.metrics.count_jobs(self.jobs.statuses)
        self.webhooks = Webhooks(settings, self.clock, self.journal)
        self.gallery = Gallery(self.clock, GALLERY_COUNT, settings.image_cache_bytes)
        self.renderer = Renderer(settings.image_cache_bytes, self.gallery, settings.workers, self.metrics)  # kept too
        self.latency: dict[str | None, int] = {}  # milliseconds added, by profile (None: every profile)

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

    def latency_ms(self, profile: str) -> int:
        """The latency added to the profile's answers: set through the control API, else --latency."""
        return self.latency.get(profile, self.latency.get(None, self.settings.latency))

    def close(self) -> None:
        """What the server does as it stops: webhook deliveries and image workers stopped, the store closed."""
        self.webhooks.clear()
        self.renderer.workers.close()
        if self.store:
            self.store.close()
        if self.shared:
            self.shared.close()
