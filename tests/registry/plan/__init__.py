"""Tests of the planners' area: zones, the conflict check, plans and their review."""
