"""Request-level routing for Sidestage sandboxes.

Pure functions only: a baseline service plus the active forks of it go in, plain
manifest dicts (and text snippets) come out. Nothing here performs I/O or imports
Django, so the reconciler, the portal and the tests can all call it freely.
"""
