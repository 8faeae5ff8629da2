"""The public area: what visitors see, with no sign-in.

- ``map``: blueprint ``public``, the memorial map (home page) and its labels;
- ``pages``: blueprint ``public_pages``, facility pages, the roll of martyrs, a grave's page, tributes, reports;
- ``api``: blueprint ``api``, the viewport GeoJSON the map loads (``/api/…?bbox=``).
"""
