"""Background machinery of one process: the job queue's consumer and the outbox
dispatch loop (plus the sinks that deliver events outside). ``kith serve`` runs
it embedded; ``kith worker`` runs it alone. Assembly only, like app.py."""

from __future__ import annotations

from huey import Huey

from kith.db.engine import Database
from kith.events import nats, outbox
from kith.events.dispatcher import Dispatcher, PollingLoop
from kith.jobs.queue import EmbeddedConsumer, JobQueue
from kith.observability import get_logger
from kith.settings import Settings
from kith.task_registry import import_all_tasks
from kith.webhooks import delivery as webhooks

log = get_logger("kith.runtime")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        huey: Huey | None = None,
    ) -> None:
        import_all_tasks()
        self.settings = settings
        self.database = database
        self.queue = JobQueue(settings, database, huey=huey)
        # Webhook HTTP calls get their own thread: a slow receiver never delays dispatch.
        self.sender = PollingLoop(
            "kith-webhooks",
            lambda: webhooks.send_all_due(database, settings),
            poll_seconds=max(1.0, settings.outbox_poll_seconds),
        )
        self.dispatcher = Dispatcher(database, after_batch=self.sender.wake)
        self.loop = PollingLoop(
            "kith-dispatcher",
            self.dispatcher.dispatch_pending,
            poll_seconds=settings.outbox_poll_seconds,
            on_stop=self.dispatcher.release,
        )
        self._consumer: EmbeddedConsumer | None = None

    def install(self) -> None:
        """Commits in this process wake this runtime's workers and dispatcher."""
        self.queue.install()
        outbox.set_wake(self.loop.wake)
        webhooks.install()
        nats.install(self.settings)

    def start_embedded(self, workers: int | None = None, *, periodic: bool = True) -> None:
        """Worker threads, scheduler (unless ``periodic=False``) and dispatcher inside
        the current process."""
        self.install()
        self._consumer = self.queue.embedded(
            workers=workers or self.settings.worker_threads, periodic=periodic
        )
        self._consumer.start()
        self.sender.start()
        self.loop.start()
        log.info("background_started", mode="embedded")

    def run_worker(self, *, workers: int, worker_type: str = "thread") -> None:
        """Block running a standalone worker (``kith worker``) until a signal stops it."""
        self.install()
        consumer = self.queue.consumer(workers=workers, worker_type=worker_type)
        if worker_type == "process":
            # Forked workers must not share the parent's database connections.
            self.queue.huey.on_startup()(lambda: self.database.engine.dispose(close=False))
        self.sender.start()
        self.loop.start()
        try:
            consumer.run()
        finally:
            self.queue.stop()
            self.loop.stop()
            self.sender.stop()
            nats.uninstall()

    def stop(self) -> None:
        self.loop.stop()
        self.sender.stop()
        nats.uninstall()
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None
        self.queue.stop()
        outbox.set_wake(None)
        self.queue.uninstall()
