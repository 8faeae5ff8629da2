"""The planning area (``/plan``): dashboard, protection ranges, conflict checks, plans with review, planning map.

- ``pages``: blueprint ``plan``.
"""
