"""Tests of the folium map builders in maps/."""
