"""The relocations area (``/relocations``): records, ledger import, journeys map, reconciliation.

- ``pages``: blueprint ``relocations``, the records, step scans, the journeys map and the reconciliation;
- ``ledger_import``: the ledger import's upload, dry run and commit (routes on the ``relocations`` blueprint).
"""
