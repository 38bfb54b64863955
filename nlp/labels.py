"""The labels innobot's classifiers use: intents, topics and languages."""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "greeting",
    "help",
    "submit_idea",
    "offer_solution",
    "post_challenge",
    "browse_challenges",
    "find_partners",
    "find_infrastructure",
    "subscribe_alerts",
    "unsubscribe_alerts",
    "my_status",
    "privacy",
    "out_of_scope",
)
OUT_OF_SCOPE = "out_of_scope"

TOPICS: tuple[str, ...] = (
    "manufacturing",
    "materials",
    "digital",
    "health",
    "agrifood",
    "energy",
    "mobility",
    "environment",
    "built_environment",
    "social",
    "space",
    "raw_materials",
)

# Languages innobot understands and answers in.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "it", "sv")
# Further languages the language identifier recognises, so that they are reported as such
# (and answered in English) instead of being mistaken for a supported one.
OTHER_LANGUAGES: tuple[str, ...] = ("de", "fr", "es", "pt", "nl")
UNKNOWN_LANGUAGE = "unknown"
