"""Use cases of the planning area.

- ``zones``: protection ranges and control zones; ``conflicts``: checking a project against them;
- ``plans``: preservation plans and their review; ``dashboard``: the planners' figures.
"""
