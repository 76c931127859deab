"""Offsite backup copier: all logic behind dodo.py (see README.md, Layout)."""
