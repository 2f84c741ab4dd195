"""Request input that parses but cannot be served becomes a 4xx here, before a handler or a database sees it.

Each of these once surfaced as a 500 (some before login): JSON nested thousands deep (RecursionError in the
parser or in pydantic), integers of thousands of digits (Python refuses to convert them; shorter ones overflow
the database's 64-bit columns), NaN/Infinity, and datetimes without a timezone (comparing them with the stored
UTC times raises TypeError on SQLite and DataError on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from pydantic import BaseModel

from vms_common.errors import InvalidInput

MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # cheaper than converting a 4,000-digit number only to refuse it
        raise InvalidInput("integers must fit in 64 bits", code="number_out_of_range")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidInput("integers must fit in 64 bits", code="number_out_of_range")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"number {text[:40]} is out of range", code="number_out_of_range")
    if value.is_integer() and not INT_MIN <= value <= INT_MAX:
        # 1e300 is an integer to JSON Schema: held to the same 64-bit range as one written out in digits.
        raise InvalidInput("integers must fit in 64 bits", code="number_out_of_range")
    return value


def _parse_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON number", code="malformed_json")


def _check_depth(data: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH, walking iteratively (recursion is what fails on such input)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidInput(f"request body is nested deeper than {MAX_DEPTH} levels", code="too_deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def loads(raw: bytes) -> Any:
    """Parse a request body as JSON. Raises InvalidInput for anything that is not a servable JSON document."""
    try:
        data = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}", code="malformed_json") from None
    except RecursionError:
        raise InvalidInput(f"request body is nested deeper than {MAX_DEPTH} levels", code="too_deep") from None
    except ValueError as exc:  # e.g. Python's own limit on digits in int()
        raise InvalidInput(f"request body has a value out of range: {exc}", code="number_out_of_range") from None
    _check_depth(data)
    return data


def check_values(value: Any, where: str = "") -> None:
    """Refuse validated input that holds a naive datetime or an integer beyond 64 bits (query parameters)."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            check_values(getattr(value, name), f"{where}.{name}" if where else name)
    elif isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(f"{where or 'datetime'}: a date-time needs a timezone offset, e.g. "
                               f"{value.isoformat()}Z", code="naive_datetime",
                               details=[{"field": where, "message": "timezone offset missing",
                                         "type": "naive_datetime"}])
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidInput(f"{where or 'integer'}: integers must fit in 64 bits", code="number_out_of_range")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_values(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_values(item, f"{where}[{index}]")


def integral_floats(value: Any) -> Any:
    """`value` with every float that has no fractional part (and fits in 64 bits) made an int: JSON Schema's
    `integer` includes 3.0, and strict validation would otherwise refuse it for an int field."""
    if isinstance(value, float) and value.is_integer() and INT_MIN <= value <= INT_MAX:
        return int(value)
    if isinstance(value, dict):
        return {key: integral_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral_floats(item) for item in value]
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def check_query_datetimes(model: BaseModel, raw: dict[str, str]) -> None:
    """Refuse a date-time query parameter that is not ISO 8601: pydantic also reads '0.5' as a Unix time,
    which the document (format date-time) does not allow and a caller almost certainly did not mean."""
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        if key in raw and isinstance(getattr(model, name), dt.datetime) and not _ISO_DATE.match(raw[key]):
            raise InvalidInput(f"{key}: expected an ISO 8601 date-time such as 2024-01-31T08:00:00Z",
                               details=[{"field": key, "message": "not an ISO 8601 date-time",
                                         "type": "datetime_format"}])
