"""Matplotlib figures: each module draws one kind of figure and returns its Axes."""

__all__: list[str] = []
