"""Keyword alerts: rules, matching, channels, delivery."""
