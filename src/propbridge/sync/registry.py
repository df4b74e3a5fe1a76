"""The registry of synced models: for each, its table, the connector feed that fills it, how
its stored document is rendered, how its links to other records are resolved, and the name
clients use for it (in `models_to_sync`, in webhook filters, in event payloads).

The type only: each record domain declares its entries (`<domain>/synced.py`), and the
composition root lists them once, in upsert order (`propbridge/catalog.py`), and hands the list
to whoever needs it through the runtime. Nothing here imports a domain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from propbridge.connectors.base import RecordData
from propbridge.db.engine import Executor
from propbridge.db.synced import Render

# Fills a page's records' link columns (our ids) from the PMS ids in their `links`.
LinkResolver = Callable[[Executor, str, list[RecordData]], Awaitable[None]]
# Runs after a page's records are written, with our ids of the page's records by model (e.g.
# link tables kept in step); True when it changed something.
AfterWrite = Callable[
    [Executor, str, list[RecordData], dict[str, dict[tuple[str, str], str]]], Awaitable[bool]
]


@dataclass(frozen=True)
class SyncedModel:
    """One synced model. `render` is None for models presented from several tables when read
    (their objects show links), which then store no document."""

    name: str
    table: Any
    feed: str
    render: Render | None = None
    resolve_links: LinkResolver | None = None
    after_write: AfterWrite | None = None
    # Tables `after_write` may change (their version is bumped when it does).
    after_write_tables: tuple[str, ...] = ()
    # Its records may be the ledger rows of writes we sent (matched by reconciliation).
    reconciles: bool = False

    @property
    def event_model(self) -> str:
        """The model name of its DATA_NEW / DATA_UPDATE events (its table's)."""
        return str(self.table.__tablename__)


class SyncedModels:
    """Every synced model, in upsert order: within a page, parents before children, so that
    links resolve."""

    def __init__(self, models: Iterable[SyncedModel]) -> None:
        self._models = tuple(models)
        self._by_name = {model.name: model for model in self._models}
        if len(self._by_name) != len(self._models):
            raise ValueError("a synced model is registered twice")

    def __iter__(self) -> Iterator[SyncedModel]:
        return iter(self._models)

    @property
    def reconciling_feeds(self) -> frozenset[str]:
        """The feeds whose records may be the ledger rows of writes."""
        return frozenset(model.feed for model in self._models if model.reconciles)

    @property
    def names(self) -> tuple[str, ...]:
        """The names clients use, in upsert order."""
        return tuple(self._by_name)

    def __getitem__(self, name: str) -> SyncedModel:
        return self._by_name[name]

    def unknown(self, names: Iterable[str]) -> list[str]:
        """Those of `names` that are not synced models, sorted."""
        return sorted(set(names) - set(self._by_name))

    def feeds(self, names: Iterable[str] | None, available: tuple[str, ...]) -> list[str]:
        """The connector feeds to read for these models (all when none are named), in the
        connector's order; properties always, since every other record hangs off one."""
        wanted_names = list(names or ())
        if not wanted_names:
            return list(available)
        wanted = {self._by_name[name].feed for name in wanted_names} | {"properties"}
        return [feed for feed in available if feed in wanted]
