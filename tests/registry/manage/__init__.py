"""Tests of the managers' area: inspections, due list, work orders, calendar, visits, archive, offline sync."""
