"""The relocations area (``/relocations``): records, ledger import, journeys map, reconciliation.

- ``pages``: blueprint ``relocations``.
"""
