"""Public corrections: the visitors' form and status page, and the county's review queue."""
