"""Vigía: news monitoring for Peruvian security."""
