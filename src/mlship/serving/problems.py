"""Client mistakes as short JSON errors: strict JSON bodies, one error schema, safe echoes.

Every error the service answers has the body `{"detail": <text or list of field errors>}`.
Anything of the request that an error echoes back (a value, a key in `loc`) is cut short and
made encodable, so a huge or malformed input can neither make the answer huge nor fail to
encode it (a 500).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

import orjson
from fastapi import HTTPException as FastAPIHTTPException
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from mlship.errors import DataError, LoadFailed, MlshipError, ParamsError

log = logging.getLogger("mlship.serving")

ECHO_CHARS = 100
_MAX_ERRORS = 20
_INT_LIMIT = 2**63
# A JSON text holds a lone surrogate only as a \\uD800-\\uDFFF escape, and an integer too large
# for 64 bits only as a run of 19+ digits: cheap tests on the raw body that spare the usual
# request a walk over every value.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONG_DIGITS = re.compile(r"\d{19}")


class FieldError(BaseModel):
    """One invalid part of a request; `loc` names where it is (`["body", "records", 2, "age"]`)."""

    type: str
    loc: list[str | int]
    msg: str
    input: Any = Field(None, description=f"the value, cut to {ECHO_CHARS} characters")
    ctx: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every error answer: one sentence, or the list of invalid fields (422)."""

    detail: str | list[FieldError]


ERROR_DESCRIPTIONS = {
    400: "the body cannot be read",
    401: "no admin token",
    403: "wrong admin token",
    404: "no such path",
    405: "method not allowed on this path",
    408: "the request did not arrive in time",
    409: "the models cannot take this change; the previous ones keep serving",
    413: "body larger than MLSHIP_MAX_BODY_BYTES",
    422: "invalid request: `detail` lists each invalid field",
    500: "the model failed to predict",
    503: "no model loaded yet, or more requests in progress than MLSHIP_MAX_REQUESTS "
    "(Retry-After says when to try again)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, all with the one error schema."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


# -- safe echoes ---------------------------------------------------------------------------------


def _text(value: str, limit: int = ECHO_CHARS) -> str:
    short = value if len(value) <= limit else value[:limit] + "..."
    # A lone surrogate cannot be encoded as UTF-8: show it as its escape instead.
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


def echo(value: Any) -> Any:
    """`value` as an error may show it: small JSON scalars as they are, the rest as short text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT_LIMIT <= value < _INT_LIMIT else _text(str(value)[:ECHO_CHARS])
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    try:
        text = json.dumps(value, ensure_ascii=True, default=str)
    except ValueError:  # an integer of more digits than Python prints
        text = f"<{type(value).__name__}>"
    return _text(text)


def _clean(value: Any) -> Any:
    """Make a whole error payload encodable and short (keys, loc parts, ctx values)."""
    if isinstance(value, dict):
        return {_text(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, str):
        return _text(value, 300)
    if isinstance(value, (int, float, bool)) or value is None:
        return echo(value)
    return _text(str(value), 300)


def error_response(
    status: int, detail: str | list[dict[str, Any]], headers: Mapping[str, str] | None = None
) -> Response:
    """The JSON error answer, encodable whatever the request held."""
    content = orjson.dumps({"detail": _clean(detail)})  # pylint: disable=no-member
    return Response(
        content, status_code=status, media_type="application/json", headers=dict(headers or {})
    )


def field_errors(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors with the echoed input cut short and no docs URL."""
    out = []
    for item in items[:_MAX_ERRORS]:
        loc = list(item.get("loc", ()))
        # The body is one record or a batch; drop that internal tag so `loc` names the field.
        if loc[:1] == ["body"] and loc[1:2] in (["record"], ["batch"]):
            del loc[1]
        error = {
            "type": item.get("type", "invalid"),
            "loc": loc,
            "msg": item.get("msg", ""),
            "input": echo(item.get("input")),
        }
        if item.get("ctx"):
            error["ctx"] = {key: str(value) for key, value in item["ctx"].items()}
        out.append(error)
    return out


def _log_refusal(request: Request, status: int, detail: Any) -> None:
    """One line per refused request: what was refused and where, never the whole input."""
    if isinstance(detail, list) and detail:
        first = detail[0]
        what = f"{first.get('type')} at {'.'.join(map(str, first.get('loc', [])))}"
    else:
        what = str(detail)
    log.info("%s %s -> %d %s", request.method, _text(request.url.path, 80), status, _text(what))


async def invalid_request(request: Request, error: Exception) -> Response:
    """422 naming each invalid field."""
    items = error.errors() if isinstance(error, RequestValidationError) else []
    details = field_errors(list(items))
    _log_refusal(request, 422, details)
    return error_response(422, details)


async def http_error(request: Request, error: Exception) -> Response:
    """An HTTPException (ours or Starlette's 404/405) in the one error schema."""
    if not isinstance(error, HTTPException):
        raise error
    _log_refusal(request, error.status_code, error.detail)
    return error_response(error.status_code, error.detail, error.headers)


# An MlshipError's HTTP status, by kind (the first match wins): the caller's fault is a 4xx, a
# model that is not loaded a 503, anything else a 500. Its message is for people: it is the detail.
_STATUS_OF_ERROR: tuple[tuple[type[MlshipError], int], ...] = (
    (DataError, 422),  # the request's data breaks the model's contract
    (ParamsError, 400),  # an option or setting the request gave is invalid
    (LoadFailed, 503),  # no model could be loaded to answer
)


def error_status(error: MlshipError) -> int:
    """The HTTP status that answers `error`."""
    return next((status for kind, status in _STATUS_OF_ERROR if isinstance(error, kind)), 500)


async def mlship_error(request: Request, error: Exception) -> Response:
    """An MlshipError in the one error schema, its status chosen by its kind."""
    if not isinstance(error, MlshipError):
        raise error
    status = error_status(error)
    _log_refusal(request, status, str(error))
    return error_response(status, str(error))


async def internal_error(_: Request, error: Exception) -> Response:
    """A bug: one log line, a generic answer."""
    log.error("unhandled error: %s", _text(repr(error), 500))
    return error_response(500, "internal server error")


# -- strict JSON bodies --------------------------------------------------------------------------


class _Refused:
    """A number of a JSON body that no field takes: too large an integer, NaN or Infinity."""

    def __init__(self, kind: str, msg: str, text: str) -> None:
        self.kind, self.msg, self.text = kind, msg, text


class _Object(dict[str, Any]):
    """A JSON object that remembers its first repeated key."""

    duplicate: str | None = None


class _Hooks:
    """json.loads hooks that mark what the body must not hold, to be found with its path."""

    def __init__(self) -> None:
        self.marked = False

    def constant(self, name: str) -> _Refused:
        """NaN, Infinity, -Infinity: Python's parser takes them, JSON has no such numbers."""
        self.marked = True
        return _Refused("finite_number", "NaN and Infinity are not JSON numbers", name)

    def integer(self, text: str) -> int | _Refused:
        """An integer, unless it is too large for 64 bits."""
        if len(text.lstrip("-")) <= 19:
            value = int(text)
            if -_INT_LIMIT <= value < _INT_LIMIT:
                return value
        self.marked = True
        return _Refused("int_too_large", "integer too large", text)

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = _Object(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    obj.duplicate = key
                    break
                seen.add(key)
            self.marked = True
        return obj


class _BadBody(ValueError):
    def __init__(self, kind: str, loc: list[str | int], msg: str, value: Any) -> None:
        super().__init__(msg)
        self.item = {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _problems(value: Any, loc: list[str | int]) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value, _Object) and value.duplicate is not None:
            yield _BadBody(
                "duplicate_key", [*loc, value.duplicate], "key repeated in a JSON object", None
            ).item
        for key, item in value.items():
            if _has_surrogate(key):
                yield _BadBody("string_unicode", [*loc, key], "key is not valid Unicode", key).item
            yield from _problems(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, [*loc, index])
    elif isinstance(value, _Refused):
        yield _BadBody(value.kind, loc, value.msg, value.text).item
    elif isinstance(value, str) and _has_surrogate(value):
        yield _BadBody(
            "string_unicode", loc, "string is not valid Unicode (lone surrogate)", value
        ).item


def parse_strict_json(raw: bytes) -> Any:
    """Parse a JSON body, refusing what plain `json.loads` lets through.

    Repeated keys (json keeps the last silently), lone surrogates (valid JSON escapes that no
    UTF-8 text holds), integers beyond 64 bits and NaN/Infinity are each a 422 naming where.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _unprocessable(
            [_BadBody("json_invalid", [], "body is not UTF-8 text", None).item]
        ) from error
    hooks = _Hooks()
    try:
        value = json.loads(
            text,
            object_pairs_hook=hooks,
            parse_constant=hooks.constant,
            # Only a body with a long digit run pays for a Python call per integer.
            parse_int=hooks.integer if _LONG_DIGITS.search(text) else None,
        )
    except json.JSONDecodeError as error:
        item = {"type": "json_invalid", "loc": ["body", error.pos], "msg": "JSON decode error"}
        raise _unprocessable([{**item, "ctx": {"error": error.msg}}]) from None
    if hooks.marked or _SURROGATE_ESCAPE.search(text):
        problems = list(_problems(value, []))
        if problems:
            raise _unprocessable(problems)
    return value


def _unprocessable(items: list[dict[str, Any]]) -> HTTPException:
    # FastAPI re-raises an HTTPException from body parsing (any other error becomes a 400).
    return FastAPIHTTPException(422, field_errors(items))


class StrictJSONRequest(Request):
    """A request whose JSON body is parsed by `parse_strict_json`."""

    async def json(self) -> Any:
        # `_json` is the cache Starlette's own Request.json() keeps.
        if not hasattr(self, "_json"):
            self._json = parse_strict_json(  # pylint: disable=attribute-defined-outside-init
                await self.body()
            )
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose handler reads JSON bodies strictly (FastAPI's custom request pattern)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
