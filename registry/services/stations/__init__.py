"""Veterans service stations: the managers' list, a station's page and its edit (``records``), and the public
map's stations by viewport (``viewport``)."""
