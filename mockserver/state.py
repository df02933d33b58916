"""Everything the mock remembers between requests, in one object that the admin API can reset."""

from __future__ import annotations

from .clock import Clock
from .faults import FaultQueue
from .files import FileStore
from .gallery import Gallery
from .ids import Ids
from .images import Renderer
from .jobs import Jobs
from .journal import Journal
from .ledger import Ledger
from .settings import Settings
from .usage import RequestCounter
from .webhooks import Webhooks

MIB = 1024 * 1024
GALLERY_COUNT = 100  # images kept for the dashboard and for tests that ask what a client received


class State:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock(frozen=settings.frozen_clock)
        self.ledger = Ledger(self.clock, settings.credits, settings.strict_keys, settings.accounts)
        self.journal = Journal(settings.journal_size)
        self.files = FileStore(settings.files_max_count, settings.files_max_mib * MIB)
        self.faults = FaultQueue()
        self.usage = RequestCounter(self.clock)
        self.ids = Ids(settings.seed)
        self.jobs = Jobs(self.clock, self.ids, settings.jobs_max_count)
        self.webhooks = Webhooks(settings, self.clock, self.journal)
        self.gallery = Gallery(self.clock, GALLERY_COUNT, settings.image_cache_mib * MIB)
        self.renderer = Renderer(settings.image_cache_mib * MIB, self.gallery)  # a cache, so a reset keeps it
        self.latency: dict[str | None, int] = {}  # milliseconds added, by profile (None: every profile)

    def reset(self) -> None:
        """Back to how the server started: config-file accounts only, nothing recorded, queued, stored or
        running (webhook registrations and deliveries included)."""
        self.clock.reset()
        self.ledger.reset()
        self.journal.clear()
        self.files.clear()
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
