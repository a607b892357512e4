"""The API's JSON parser, refusing bodies it would choke on: 400, not 500.

The standard library's decoder recurses once per nesting level, so ~50,000 nested `[` raise
RecursionError (a 500). Nothing in the API nests deeper than a few levels: bodies deeper
than MAX_DEPTH, and keys with a NUL byte, are a ParseError naming the problem. (A NUL in a
value is each serializer field's to name: "name": "…NUL…".)
"""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _problem(data: Any) -> str | None:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"JSON nested too deeply: more than {MAX_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    return "a JSON key contains a NUL byte, which no field accepts"
                stack.append((item, depth + 1))
    return None


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"JSON parse error - nested too deeply (over {MAX_DEPTH} levels)"
            ) from None
        if (problem := _problem(data)) is not None:
            raise ParseError(f"JSON parse error - {problem}")
        return data
