"""Pieces for continuous integration: the pull-request report (``promptver ci-report``)."""
