"""List conventions read from a real request's query string: paging, ordering, filters and
timestamps, with a 400 for anything malformed or unknown."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from propbridge.api import listing
from propbridge.api.errors import ApiError
from propbridge.api.listing import ListQuery

ORDERABLE = {"id", "created_at", "name"}


def _request(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query})


def _refusal(query: bytes, **options: object) -> ApiError:
    with pytest.raises(ApiError) as refused:
        listing.parse_list_query(_request(query), ORDERABLE, **options)  # type: ignore[arg-type]
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")
    return refused.value


def _paths(error: ApiError) -> list[list[str | int]]:
    assert error.details is not None
    return [issue["path"] for issue in error.details["issues"]]


def test_defaults_when_nothing_is_asked() -> None:
    assert listing.parse_list_query(_request(b""), ORDERABLE) == ListQuery(
        0, 100, [("created_at", "desc")]
    )
    assert listing.parse_list_query(_request(b"limit=&offset="), ORDERABLE, "name") == ListQuery(
        0, 100, [("name", "asc")]
    )


def test_paging_and_ordering_as_asked() -> None:
    query = listing.parse_list_query(
        _request(b"offset=20&limit=250&order-by=name:DESC,%20id"), ORDERABLE
    )
    assert query == ListQuery(20, 250, [("name", "desc"), ("id", "asc")])
    assert query.meta(total=300, returned=250) == {
        "offset": 20,
        "limit": 250,
        "orderBy": [{"field": "name", "direction": "desc"}, {"field": "id", "direction": "asc"}],
        "hasMore": True,
        "total": 300,
    }
    assert query.meta(total=270, returned=250)["hasMore"] is False


def test_unknown_parameters_are_named() -> None:
    with pytest.raises(ApiError) as refused:
        listing.refuse_unknown_params(_request(b"limit=5&zeta=1&alpha=2"), ["limit"])
    assert "alpha, zeta" in refused.value.message
    assert _paths(refused.value) == [["alpha"], ["zeta"]]
    listing.refuse_unknown_params(
        _request(b"integration_id=i&limit=5"), ["limit", "integration_id"]
    )


def test_an_unknown_order_field_or_direction_is_refused() -> None:
    field = _refusal(b"order-by=created_at:desc,secret")
    assert "'secret'" in field.message and _paths(field) == [["order-by"]]
    direction = _refusal(b"order-by=name:sideways")
    assert "'sideways'" in direction.message and _paths(direction) == [["order-by"]]
    assert _paths(_refusal(b"order-by=name,")) == [["order-by"]]  # an empty field
    # An empty order-by is the route's default order.
    default = listing.parse_list_query(_request(b"order-by="), ORDERABLE)
    assert default.order_by == [("created_at", "desc")]


@pytest.mark.parametrize(
    ("query", "name", "says"),
    [
        (b"limit=0", "limit", "between 1 and 250"),
        (b"limit=251", "limit", "between 1 and 250"),
        (b"limit=-1", "limit", "between 1 and 250"),
        (b"limit=ten", "limit", "must be an integer"),
        (b"limit=1.5", "limit", "must be an integer"),
        (b"offset=-1", "offset", "between 0 and"),
        (b"offset=1000000001", "offset", "between 0 and"),
        (b"offset=%20", "offset", "must be an integer"),
    ],
)
def test_limit_and_offset_out_of_range_are_refused(query: bytes, name: str, says: str) -> None:
    refused = _refusal(query)
    assert says in refused.message and _paths(refused) == [[name]]


def test_an_integer_parameter_without_an_upper_bound() -> None:
    assert listing.int_param(_request(b"n=123456789"), "n", 7, 1, None) == 123456789
    assert listing.int_param(_request(b""), "n", 7, 1, None) == 7
    with pytest.raises(ApiError) as refused:
        listing.int_param(_request(b"n=0"), "n", 7, 1, None)
    assert "at least 1" in refused.value.message


def test_refuse_unknown_params_admits_only_the_named_ones() -> None:
    listing.refuse_unknown_params(_request(b"offset=1&state=x"), ["offset", "state"])
    with pytest.raises(ApiError) as refused:
        listing.refuse_unknown_params(
            _request(b"offset=1&order-by=id&State=x"), ["offset", "state"]
        )
    assert _paths(refused.value) == [["State"], ["order-by"]]
