"""Language identification, intent and topic classification, and matching."""
