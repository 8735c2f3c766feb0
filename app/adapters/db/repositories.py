"""The repositories in one place, under their SQL names and the seed's DAO names."""

from __future__ import annotations

from app.adapters.db.deployments import SqlDeploymentRepository, SqlDeviceRepository
from app.adapters.db.promotions import SqlPromotionRepository
from app.adapters.db.snapshots import SqlSnapshotRepository
from app.adapters.db.validation import SqlValidationRepository

PKGSnapshotsDAO = SqlSnapshotRepository
PKGDeploymentsDAO = SqlDeploymentRepository
PKGValidationDAO = SqlValidationRepository
PKGPromotionsDAO = SqlPromotionRepository
PKGDevicesDAO = SqlDeviceRepository

__all__ = [
    "PKGDeploymentsDAO",
    "PKGDevicesDAO",
    "PKGPromotionsDAO",
    "PKGSnapshotsDAO",
    "PKGValidationDAO",
    "SqlDeploymentRepository",
    "SqlDeviceRepository",
    "SqlPromotionRepository",
    "SqlSnapshotRepository",
    "SqlValidationRepository",
]
