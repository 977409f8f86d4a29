"""rater: streaming real-time usage rating (pure domain core)."""
