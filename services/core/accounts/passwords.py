"""Password rules (等保 2.0: complexity, no reuse of the account name)."""

from __future__ import annotations

from services.core.errors import FieldError, Unprocessable
from services.core.settings import DEMO_PASSWORD, PasswordSettings

_CLASSES = (str.islower, str.isupper, str.isdigit)


def problems(password: str, username: str, rules: PasswordSettings) -> list[str]:
    found = []
    if len(password) < rules.min_length:
        found.append("password_too_short")
    classes = sum(1 for test in _CLASSES if any(test(c) for c in password))
    classes += any(not c.isalnum() for c in password)
    if classes < rules.min_classes:
        found.append("password_too_simple")
    if username and username.lower() in password.lower():
        found.append("password_contains_username")
    if password == DEMO_PASSWORD:
        found.append("password_published")  # printed in the README: never an account's own
    return found


def check(password: str, username: str, rules: PasswordSettings, field: str = "password") -> None:
    found = problems(password, username, rules)
    if found:
        params = {"min_length": rules.min_length, "min_classes": rules.min_classes}
        raise Unprocessable(
            found[0],
            errors=[FieldError(field, code, params) for code in found],
            field=field,
            min_length=rules.min_length,
            min_classes=rules.min_classes,
        )
