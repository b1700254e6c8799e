"""ETag / If-Match for versioned resources, opted into with one line:

    router = APIRouter(route_class=VersionedRoute)

Reads of an object carrying ``version`` answer with ``ETag: "<version>"`` (and 304
for a matching ``If-None-Match``); ``PATCH``/``PUT``/``DELETE`` hand ``If-Match`` to
:func:`kith.auth.scoping.get_for_write`, which answers 412 when the record moved on.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from kith.auth.scoping import if_match_var

_WRITE_METHODS = {"PATCH", "PUT", "DELETE"}


def _etag_of(response: Response) -> str | None:
    if response.media_type != "application/json" or not 200 <= response.status_code < 300:
        return None
    try:
        body = orjson.loads(bytes(response.body))
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict) and isinstance(body.get("version"), int):
        return f'"{body["version"]}"'
    return None


class VersionedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def versioned_handler(request: Request) -> Response:
            token = if_match_var.set(
                request.headers.get("if-match") if request.method in _WRITE_METHODS else None
            )
            try:
                response = await handler(request)
            finally:
                if_match_var.reset(token)
            etag = _etag_of(response)
            if etag is not None:
                response.headers["ETag"] = etag
                inm = request.headers.get("if-none-match")
                if request.method in {"GET", "HEAD"} and inm:
                    tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
                    if etag in tags or "*" in tags:
                        return Response(status_code=304, headers={"ETag": etag})
            return response

        return versioned_handler
