"""The registry's data model: one module per aggregate, one metadata for both stores."""

from sqlalchemy import Index, text

from registry.models.base import Base, Record
from registry.models.calendar import CalendarOrder, FacilityDay
from registry.models.correction import Correction
from registry.models.division import Division, DivisionAlias
from registry.models.edits import EditBatch, ProvisionalEdit
from registry.models.facility import Facility, FacilityName, FacilityZone, HeritageSite
from registry.models.gis import ApiToken
from registry.models.inspection import Inspection, MaintenanceTask
from registry.models.martyr import Martyr, Tomb
from registry.models.name_grams import martyr_name_grams
from registry.models.people import Attachment, AuditEvent, LoginThrottle, User
from registry.models.plan import FundingLine, PlanZone, PreservationPlan
from registry.models.planning import ConflictCheck, PlanVersion
from registry.models.public import ProblemReport, RateBucket, Tribute, TributeCount
from registry.models.relocation import Relocation
from registry.models.relocation_import import ColumnMapping, ImportBatch
from registry.models.station import ServiceStation

# Feature tables: (model, identifier shown in GIS tools, description). Each has one geometry column `geom`.
FEATURE_TABLES = (
    (Facility, "纪念设施 Memorial facilities", "Martyr memorial facilities of the registry"),
    (FacilityZone, "保护范围与建控地带 Facility zones", "Footprints, protection ranges and control zones"),
    (HeritageSite, "红色文化遗存 Red heritage sites", "Red heritage sites and education bases"),
    (Tomb, "烈士墓 Tombs", "Martyr tombs and plots"),
    (Relocation, "迁移 Relocations", "Tomb relocation journeys, origin to destination"),
    (Inspection, "巡查 Inspections", "Where each inspection was logged"),
    (PlanZone, "规划范围 Plan zones", "Zones of preservation plans"),
    (ConflictCheck, "冲突检查 Conflict checks",
     "Outlines of proposed projects checked against protection ranges and control zones"),
    (ServiceStation, "退役军人服务站 Veterans service stations",
     "Veterans service centres and stations, their demonstration status and 五有 checklist"),
)


def _index_retired_rows() -> None:
    # A partial index of the few retired rows of each feature table: spatial queries leave them out
    # from the index alone, without reading the table rows of every candidate the R*Tree returns.
    for model, _identifier, _description in FEATURE_TABLES:
        table = model.__table__
        name = f"ix_{table.name}_retired"
        if not any(index.name == name for index in table.indexes):
            retired = text("status = 'retired'")
            Index(name, table.c.id, sqlite_where=retired, postgresql_where=retired)


_index_retired_rows()

__all__ = [
    "ColumnMapping", "ImportBatch", "Division", "DivisionAlias",
    "ApiToken",
    "Attachment", "AuditEvent", "Base", "FEATURE_TABLES", "Facility", "FacilityName", "FacilityZone",
    "FundingLine", "HeritageSite", "Inspection", "MaintenanceTask", "Martyr", "PlanZone",
    "PreservationPlan", "ConflictCheck", "PlanVersion", "Record", "Relocation", "Tomb", "User", "LoginThrottle",
    "ProblemReport", "RateBucket", "Tribute", "TributeCount",
    "martyr_name_grams",
    "CalendarOrder", "FacilityDay",
    "ServiceStation",
    "Correction",
    "EditBatch", "ProvisionalEdit",
]
