"""`flask --app registry …` command groups beyond the core ones in ``registry.cli``.

- ``backup``: ``backup`` and ``restore``;
- ``calendar``: ``calendar prepare|qingming``;
- ``divisions``: ``divisions load|list``;
- ``imports``: ``import relocations`` (a relocation ledger);
- ``relocations``: ``relocations link-tombs``;
- ``serving``: ``ratelimits purge``;
- ``uploads``: ``uploads purge``.
"""
