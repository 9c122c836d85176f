"""TMF conventions shared by every resource: Money with decimal strings, references, `fields=` selection,
`offset`/`limit` with X-Total-Count and X-Result-Count, JSON bodies (amounts as strings, never floats)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.aggregates.money import currency, fmt
from ledger.contracts.tmf import href
from ledger.http.errors import ApiError

DECIMAL = r"^-?\d{1,24}(\.\d{1,6})?$"


def merge_patch_body(model: type[BaseModel]) -> dict[str, Any]:
    """A PATCH route's `openapi_extra`: its body documented as application/merge-patch+json (the TMF way) beside the
    application/json FastAPI documents from the parameter; both are accepted."""
    return {"requestBody": {"content": {"application/merge-patch+json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


class Tmf(BaseModel):
    """Base of the TMF bodies: camelCase names as the specs spell them; unknown input attributes refused; no text
    with a NUL character (no database keeps it)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class Resource(Tmf):
    """A TMF resource: `fields=` may leave out any attribute but id, href and @type (the OpenAPI document requires
    only those; see app.create_app)."""

    @classmethod
    def selectable(cls) -> set[str]:
        found, todo = set(), list(cls.__subclasses__())
        while todo:
            sub = todo.pop()
            found.add(sub.__name__)
            todo += sub.__subclasses__()
        return found


ALWAYS = ("id", "href", "@type")


class Money(Tmf):
    """A TMF Money value: the amount is a decimal string (exact), never a JSON number."""

    unit: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code")
    value: str = Field(pattern=DECIMAL, description="exact decimal amount as a string, e.g. \"18.45\"")

    @classmethod
    def of(cls, amount: Decimal | str, unit: str) -> Money:
        """The amount exactly, with at least the currency's minor unit (10 EUR reads "10.00")."""
        return cls(unit=unit, value=fmt(Decimal(amount), currency(unit)))

    def amount(self) -> Decimal:
        return Decimal(self.value)


class TimePeriod(Tmf):
    startDateTime: str | None = None
    endDateTime: str | None = None


class Extensible(Tmf):
    """An input body: TMF's sub-classing attributes (@type, @baseType, @schemaLocation) are accepted."""

    type_: str | None = Field(None, alias="@type")
    baseType: str | None = Field(None, alias="@baseType")
    schemaLocation: str | None = Field(None, alias="@schemaLocation")


class Ref(Extensible):
    """A reference to another resource (id, href, and the @-attributes TMF allows)."""

    id: str = Field(min_length=1, max_length=200)
    href: str | None = None
    name: str | None = None
    role: str | None = None
    referredType: str | None = Field(None, alias="@referredType")


def ref(resource: str, resource_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": resource_id, "href": href(resource, resource_id), "@referredType": resource, **extra}


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def render(content: Any) -> bytes:
    """A JSON body as the API sends it: orjson, a Decimal as a string."""
    return orjson.dumps(content, default=_default)


class Json(Response):
    """orjson bodies; a Decimal renders as a string; bytes are a body rendered before (by `render`), sent as they are."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else render(content)


# ---------------------------------------------------------------- fields= and paging


def _fields(fields: str | None) -> frozenset[str] | None:
    if fields is None or not fields.strip():
        return None
    return frozenset(f.strip() for f in fields.split(",") if f.strip()) | {"id", "href", "@type"}


def selected(doc: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    """A resource with only the first-level attributes asked for (id, href and @type always)."""
    return doc if fields is None else {k: v for k, v in doc.items() if k in fields}


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    fields: frozenset[str] | None

    def respond(self, docs: Sequence[dict[str, Any]], total: int, total_exact: bool = True) -> Json:
        """The page with X-Result-Count and X-Total-Count; a total that is only a lower bound (a bounded count)
        goes in X-Total-Count-Lower-Bound instead, so X-Total-Count is never a number that is not the total."""
        body = [selected(doc, self.fields) for doc in docs]
        counted = "X-Total-Count" if total_exact else "X-Total-Count-Lower-Bound"
        return Json(body, headers={counted: str(total), "X-Result-Count": str(len(body))})

    def window(self, items: Sequence[Any]) -> list[Any]:
        return list(items[self.offset:self.offset + self.limit])


async def page(request: Request,
         offset: Annotated[int, Query(ge=0, le=10**9, description="index of the first resource returned")] = 0,
         limit: Annotated[int | None, Query(ge=1, description="how many at most (default and maximum: settings)")] = None,
         fields: Annotated[str | None, Query(description="comma-separated first-level attributes to return")] = None) -> Page:
    settings = request.app.state.services.settings
    if limit is not None and limit > settings.api_max_limit:
        raise ApiError(400, "invalid_input", f"limit: at most {settings.api_max_limit}")
    return Page(offset, limit or settings.api_default_limit, _fields(fields))


Paging = Annotated[Page, Depends(page)]


async def fields_of(fields: Annotated[str | None, Query(description="comma-separated first-level attributes to return")] = None
              ) -> frozenset[str] | None:
    return _fields(fields)


Fields = Annotated[frozenset[str] | None, Depends(fields_of)]


def one(doc: dict[str, Any], fields: frozenset[str] | None, status: int = 200, headers: dict[str, str] | None = None) -> Json:
    return Json(selected(doc, fields), status_code=status, headers=headers)


def created(doc: dict[str, Any]) -> Json:
    return Json(doc, status_code=201, headers={"Location": doc["href"]})


Build = Callable[[], Json]


_COUNT = {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
LISTED: dict[int | str, dict[str, Any]] = {200: {"description": "the page of resources", "headers": {
    "X-Total-Count": {**_COUNT, "description": "how many resources match"},
    "X-Result-Count": {**_COUNT, "description": "how many are in this answer"}}}}
"""The list routes' 200 answer: with X-Total-Count and X-Result-Count."""
BOUNDED: dict[int | str, dict[str, Any]] = {200: {"description": "the page of resources", "headers": {
    "X-Total-Count": {**_COUNT, "description": "how many resources match (absent when more match than are counted)"},
    "X-Total-Count-Lower-Bound": {**_COUNT, "description": "instead of X-Total-Count when more match than are "
                                  "counted: at least this many match"},
    "X-Result-Count": {**_COUNT, "description": "how many are in this answer"}}}}
"""A list route whose count is bounded (customer search): X-Total-Count, or past the cap a lower bound."""


def again(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A create route's 200 answer: the resource existed already (the same business key and content)."""
    return {200: {"model": model, "description": "it existed already (the same id and content): nothing changed"}}
