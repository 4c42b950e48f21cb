"""A helper beside the plugins (no hub_* functions, so not a plugin itself)."""


def tidy(text: str) -> str:
    return " ".join(text.split())
