"""Browser tests: real pages in headless Chromium with every host but 127.0.0.1 cut off."""
