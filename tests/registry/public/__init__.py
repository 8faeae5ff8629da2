"""Tests of the public area: the map, pages, roll of martyrs, tribute and the viewport API."""
