"""A service's problem turned into what the person sees on the form: each field's message in
their language next to the field, and the list of them (the error summary) at the top. A form's
fields are named as the API names them (``guardian_consent.given_on``), so a problem's field is
the form's field; a field the form does not show is said in the summary only."""

from __future__ import annotations

from dataclasses import dataclass

from yts_workspace.backends import ApiProblem
from yts_workspace.i18n import Words


@dataclass(frozen=True)
class FieldMessage:
    field: str  # the form's field name ("" when the form has no such field)
    text: str


def field_messages(
    problem: ApiProblem,
    words: Words,
    fields: frozenset[str] | set[str],
    said: dict[tuple[str, str], str] | None = None,
) -> list[FieldMessage]:
    """The messages of a problem for a form showing ``fields``: one per field at fault (the
    first rule it broke), in the person's language; a problem without fields is one message.
    ``said`` names the message of a (field, rule) this form says in its own words (a cohort's
    name that does not match its pattern is not "choose one of the answers")."""
    found: dict[str, FieldMessage] = {}
    for error in problem.errors:
        name = _form_field(error.get("field", ""), fields)
        if name in found and name:
            continue
        rule = error.get("rule", "")
        own = (said or {}).get((name, rule))
        text = words(own) if own else words.rule(rule, error.get("message", ""))
        found[name or f"#{len(found)}"] = FieldMessage(name, text)
    if not found:
        return [FieldMessage("", words.problem(problem.status, problem.detail))]
    return list(found.values())


def _form_field(api_field: str, fields: frozenset[str] | set[str]) -> str:
    """The form's field for an API field: itself, or the nearest enclosing one the form shows
    (``participants.by_grade.8`` -> ``participants.by_grade``)."""
    parts = api_field.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in fields:
            return candidate
        parts.pop()
    return ""
