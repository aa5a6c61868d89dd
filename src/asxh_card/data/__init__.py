"""Data files bundled with asxh-card (the programme registry), read with importlib.resources."""
