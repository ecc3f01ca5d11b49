"""The evaluation layer: what the campaigns and the rules achieved (build.py over measures.py)."""
