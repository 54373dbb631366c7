"""The small exception vocabulary of the pipeline, and start-up errors.

Every article ends in exactly one counted disposition: stored, or one of the three
below. A stage raises; only ``monitor.pipeline`` catches and counts.
"""


class Disposition(Exception):
    """Base of the three ways an article can leave the pipeline early."""

    outcome = "unknown"

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DropArticle(Disposition):
    """Expected and final: a duplicate, an empty entry. Counted, not logged loudly."""

    outcome = "dropped"


class RetryLater(Disposition):
    """Transient: the store is locked or unreachable. The feed is polled again soon
    and its validators are not advanced, so the article comes back."""

    outcome = "retry"


class Quarantine(Disposition):
    """Poison: the article broke a stage. Kept aside with the error, replayable with
    ``monitor quarantine replay``."""

    outcome = "quarantined"


class StartupError(Exception):
    """Configuration or environment is wrong; start-up stops with this message.

    The message names the thing that is wrong and how to fix it.
    """


class QueryError(ValueError):
    """A search query the store cannot run; the message says why and how to fix it."""


class StoreUnavailable(Exception):
    """The store cannot be reached now (Elasticsearch down, network). Writes wait in
    the outbox; a command that must read exits with this message (status 1)."""


class KibanaUnavailable(StoreUnavailable):
    """Kibana cannot be reached or is not ready; a later attempt may succeed (status 1)."""
