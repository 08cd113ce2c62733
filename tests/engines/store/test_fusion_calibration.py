"""SqlMetadataStore: the fusion calibration a collection records (the contract suite)."""

from __future__ import annotations

from helpers.store import SqliteStores
from ragworks.testing.store_contract import FusionCalibrationTest


class TestSqlFusionCalibration(SqliteStores, FusionCalibrationTest):
    """Calibrations on a real SQLite file."""
