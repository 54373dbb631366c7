"""Offline translation to English: models, sentences, translators, cache."""
