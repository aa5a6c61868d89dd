"""Private, pure building blocks of the signed card (no I/O, no web or database code).

Nothing here is public API: import from :mod:`asxh_card` instead. Each module enforces its own
size limits before parsing (DESIGN.md §5).
"""
