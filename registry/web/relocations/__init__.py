"""The relocations area (``/relocations``): records, ledger import, journeys map, reconciliation.

- ``blueprint``: blueprint ``relocations`` and the roles that read and write;
- ``pages``: the records, step scans, the journeys map and the reconciliation;
- ``ledger_import``: the ledger import's upload, dry run and commit.

Importing the area registers every route on the blueprint (``pages.bp`` is the app's handle on it).
"""

from registry.web.relocations import ledger_import, pages  # noqa: F401 - their routes join the blueprint
