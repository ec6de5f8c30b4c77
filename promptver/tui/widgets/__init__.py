"""Widgets of the review UI, one per module."""
