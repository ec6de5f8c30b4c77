"""Screens pushed over the review: help, note prompt, case detail."""
