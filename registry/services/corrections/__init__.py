"""Public corrections: visitors propose, the county reviews (submit, review), and the public pages' provenance."""
