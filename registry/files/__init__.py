"""Reading the files people upload that are not GIS: spreadsheets (CSV, XLSX), relocation ledgers and photos.

``tables`` reads a sheet's rows (CSV in UTF-8 or GB18030, XLSX with its merged cells) for the ledger import and
the GIS import's spreadsheets alike; ``ledger`` and its ``ledger_*`` modules hold the ledger's rules (headings,
cells, per-row checks); ``images`` checks photos and scans. The upload checks themselves (sizes, zip bombs,
pointer files) stay in ``geodata.sniff``. Pure code: no Flask, no store.
"""
