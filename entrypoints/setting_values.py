"""What every setting parser shares: the error that names a variable, and comma-separated lists."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting that cannot be used; the message names the variable."""


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
