"""Strict decoding of what a client sends: HTTP bodies, GET parameters and WebSocket messages share these rules.

Python's `json` accepts what later breaks deeper layers (NaN, integers of any length, lone surrogates that
cannot be encoded, NUL that PostgreSQL refuses, nesting that exhausts the stack). Every transport decodes
with `decode_request_json` and checks already-decoded values with `check_request_value`, so a malformed
request is refused at the edge with a clear message instead of failing as a 500 somewhere inside.
"""

import json
import re
from typing import Any

MAX_NESTING = 64  # arrays and objects inside one another
MAX_INT_DIGITS = 100  # far beyond any id, page size or amount; int() of huge literals is quadratic

NESTING_MESSAGE = f"Malformed request: JSON may not be nested more than {MAX_NESTING} levels deep."
STRING_MESSAGE = "Malformed request: strings may not contain NUL or unpaired surrogates."
UTF8_MESSAGE = "Malformed request: not valid UTF-8."

_FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class MalformedRequest(ValueError):
    """A request refused before any GraphQL processing; the message says what is wrong with it."""


def _parse_int(digits: str) -> int:
    if len(digits) - digits.startswith("-") > MAX_INT_DIGITS:
        raise MalformedRequest(f"Malformed request: JSON integers may have at most {MAX_INT_DIGITS} digits.")
    return int(digits)


def _parse_constant(name: str) -> Any:
    raise MalformedRequest(f"Malformed request: {name} is not valid JSON.")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_parse_constant)


def decode_request_json(data: str | bytes) -> Any:
    """Decode one JSON document from a client (UTF-8 if bytes) and check it; MalformedRequest if refused."""
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequest(UTF8_MESSAGE) from None
    else:
        text = data
    try:
        value = _DECODER.decode(text)
    except RecursionError:  # the C decoder gives up long before the stack does: same answer as the walk below
        raise MalformedRequest(NESTING_MESSAGE) from None
    except json.JSONDecodeError as error:
        raise MalformedRequest(f"Malformed request: not valid JSON ({error.msg} at position {error.pos}).") from None
    check_request_value(value)
    return value


def check_request_value(value: Any) -> None:
    """Refuse nesting beyond MAX_NESTING and any string (keys included) with NUL or a lone surrogate.

    Walks iteratively, so a value of any shape is checked in time linear in its size and constant stack.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _FORBIDDEN_CHARACTERS.search(item):
                raise MalformedRequest(STRING_MESSAGE)
        elif isinstance(item, dict | list):
            if depth >= MAX_NESTING:
                raise MalformedRequest(NESTING_MESSAGE)
            if isinstance(item, dict):
                pending.extend((key, depth + 1) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
