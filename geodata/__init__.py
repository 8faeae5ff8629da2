"""GIS helpers with neither Flask nor a database."""
