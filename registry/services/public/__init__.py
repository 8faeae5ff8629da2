"""Use cases of the public area.

- ``features``: the viewport GeoJSON (tomb clusters from the spatial index);
- ``roll``: the roll of martyrs and its search; ``name_grams``: the name index it reads;
- ``tribute``: flowers and messages, with moderation; ``reports``: problems visitors report.
"""
