"""Psychometric reports: ``validate`` runs the analyses and returns a :class:`ValidationReport`."""

from allyscale.report.bundle import ValidationReport
from allyscale.report.pipeline import validate

__all__ = ["validate", "ValidationReport"]
