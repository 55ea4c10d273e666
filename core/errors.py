"""Errors the engine raises on purpose. Each says which field was wrong and what is allowed."""
from __future__ import annotations


class CaseStudyError(Exception):
    """Base class of every error this project raises on purpose."""


class UnknownModelError(CaseStudyError, KeyError):
    def __init__(self, key: str, known: list[str], suggestion: str | None = None):
        self.key, self.known, self.suggestion = key, known, suggestion
        hint = f" Did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"model: unknown model '{key}'.{hint} Known models: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class RequestError(CaseStudyError, ValueError):
    """A request field is out of range; raised before any model loads."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}: {value!r} is not allowed; {allowed}")


class InvalidRequest(RequestError):
    """Several fields of one request are out of range: `errors` holds one RequestError per field."""

    def __init__(self, errors: list[RequestError]):
        self.errors = list(errors)
        first = self.errors[0]
        CaseStudyError.__init__(self, "; ".join(str(e) for e in self.errors))
        self.field, self.value, self.allowed = first.field, first.value, first.allowed


class UnknownRecipeError(CaseStudyError, KeyError):
    def __init__(self, name: str, known: list[str], suggestion: str | None = None):
        self.name, self.known, self.suggestion = name, known, suggestion
        hint = f" Did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"recipe: unknown recipe '{name}'.{hint} Known recipes: {', '.join(known)}")

    def __str__(self) -> str:
        return self.args[0]


class RecipeError(CaseStudyError, ValueError):
    """A speed recipe cannot run here (model, card or package); raised before any model loads."""

    def __init__(self, recipe: str, problems: list[str]):
        self.recipe, self.problems = recipe, problems
        super().__init__(f"recipe: {recipe!r} cannot run: " + "; ".join(problems))


class StoreError(CaseStudyError):
    """The store cannot be reached, is not supported, or refused a row: one line naming the store (password
    hidden), what failed and what to check. A run stops on it; the CLI exits with it in one line."""
