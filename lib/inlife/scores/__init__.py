"""The scores layer: value index (AHP), model scores, segments, and the subscriber state rules read."""
