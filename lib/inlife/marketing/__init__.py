"""The marketing layer: recommendations and tags from the rules (build.py), then the campaigns' target lists,
contact history and channel exports (targeting.py), by month and by night."""
