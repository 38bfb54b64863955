"""Every feature innobot offers, in the order the router registers them."""

from __future__ import annotations

from handlers.alerts import feature as alerts_feature
from handlers.challenges import feature as challenges_feature
from handlers.communities import feature as communities_feature
from handlers.consultations import feature as consultations_feature
from handlers.context import Feature
from handlers.engagement_moderation import feature as group_status_feature
from handlers.events import feature as events_feature
from handlers.help import feature as help_feature
from handlers.ideas import feature as ideas_feature
from handlers.matches import feature as matches_feature
from handlers.moderation import feature as moderation_feature
from handlers.onboarding import feature as onboarding_feature
from handlers.privacy import feature as privacy_feature
from handlers.profiles import feature as profiles_feature

ALL_FEATURES: tuple[Feature, ...] = (
    onboarding_feature,
    ideas_feature,
    privacy_feature,
    moderation_feature,
    alerts_feature,
    profiles_feature,
    challenges_feature,
    matches_feature,
    group_status_feature,  # innobot's own place in a group, before the groups' own handling
    communities_feature,
    events_feature,
    consultations_feature,
    help_feature,
)
