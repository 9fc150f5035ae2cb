"""What a posted form's values become in a service's request body: repeated fields as lists,
numbers as numbers, fields left empty left out (so the service names each as missing)."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [str(value)] if value else []


def whole(value: Any) -> Any:
    """A number typed in a form: sent as a number when it is one, else as typed (the API says
    what is wrong with it, next to the field)."""
    text = str(value or "").strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return text


def answered(body: dict[str, Any]) -> dict[str, Any]:
    """A form's body without the fields left empty, so that the API names each as missing
    (rather than too short, or of the wrong type)."""
    kept: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict):
            value = answered(value)
        if value not in (None, "", [], {}):
            kept[key] = value
    return kept
