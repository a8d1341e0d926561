"""The trainers' workshop simulation game (not implemented yet)."""

__all__: list[str] = []
