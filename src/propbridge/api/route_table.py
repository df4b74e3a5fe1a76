"""The record routes served straight from the request-context layer, past FastAPI's router and
middleware stack.

Why: profiled in-process, FastAPI's router spent about 0.3 ms finding a record route (it tries
each route in turn, through wrappers for every included router, and matches twice), and its
middleware layers (exception, telemetry, body-limit and exit-stack wrappers) as much again: more
than a by-id read's own work. Only GET routes of `DirectRoute`s are in the table: a list route by
its exact path, a by-id route by the path before its last segment. Their failures are rendered
by the app's own exception handlers, as FastAPI would render them. Every other request goes
through FastAPI as before (405s, redirects for a missing slash, 404s).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRouter
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from propbridge.api.dependencies import DirectRoute


class _Query(QueryParams):
    """Query parameters whose `get` of an absent name does not raise: Starlette's comes from
    `Mapping`, which looks the name up and catches the KeyError, and a record route asks for
    a dozen filters a request does not give (a tenth of a filtered page's time, profiled)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 - this is `get`


class _Request(Request):
    @property
    def query_params(self) -> QueryParams:
        if not hasattr(self, "_query"):
            self._query = _Query(self.scope["query_string"])
        return self._query


class RouteTable:
    """The `DirectRoute` GETs of some routers, found by path."""

    def __init__(self, app: FastAPI, routers: list[APIRouter]) -> None:
        self.app = app
        self.exact: dict[str, DirectRoute] = {}
        self.by_id: dict[str, tuple[DirectRoute, str]] = {}
        # The routers are included without a prefix of their own: each path is the full one.
        for route in (route for router in routers for route in router.routes):
            if not isinstance(route, DirectRoute) or "GET" not in (route.methods or ()):
                continue
            names = list(route.param_convertors)
            if not names:
                self.exact[route.path] = route
                continue
            prefix, _, last = route.path.rpartition("/")
            # Only `…/{name}` with a plain string parameter: the last segment is the id.
            if len(names) == 1 and last == f"{{{names[0]}}}" and "{" not in prefix:
                self.by_id[f"{prefix}/"] = (route, names[0])

    def find(self, scope: Scope) -> tuple[DirectRoute, dict[str, str]] | None:
        """The route of a GET and its path parameters, if the table has it."""
        if scope["method"] != "GET":
            return None
        path: str = scope["path"]
        route = self.exact.get(path)
        if route is not None:
            return route, {}
        prefix, _, last = path.rpartition("/")
        found = self.by_id.get(f"{prefix}/") if last else None
        if found is None:
            return None
        return found[0], {found[1]: last}

    async def serve(
        self, found: tuple[DirectRoute, dict[str, str]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run a route found by `find` and send its answer (or its failure's, rendered by the
        app's exception handlers)."""
        route, params = found
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        request = _Request(scope, receive, send)
        try:
            response = await route.direct(request)
        except Exception as error:
            response = await self._handler_for(error)(request, error)
        await response(scope, receive, send)

    def _handler_for(self, error: Exception) -> Any:
        handlers = self.app.exception_handlers
        for kind in type(error).__mro__:
            if kind in handlers:
                return handlers[kind]
        raise RuntimeError("no handler for Exception")  # install_error_handlers adds one
