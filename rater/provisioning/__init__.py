"""Provisioning: typed operations on the configuration in force, applied by one pure function.

* :mod:`~rater.provisioning.operations`: the operation models and :func:`parse_operation`;
* :mod:`~rater.provisioning.documents`: the configuration in force (:class:`Config`) and its documents;
* :mod:`~rater.provisioning.apply`: :func:`apply` and :func:`cancelled_services`;
* :mod:`~rater.provisioning.catalog_changes`, :mod:`~rater.provisioning.account_changes`: each operation's
  change;
* :mod:`~rater.provisioning.integrity`: the rules on the whole result;
* :mod:`~rater.provisioning.errors`: :class:`ProvisioningError`.
"""

from rater.provisioning.apply import apply, cancelled_services
from rater.provisioning.documents import Config, account_json, accounts_document, compile_config
from rater.provisioning.errors import ProvisioningError
from rater.provisioning.operations import (
    OPERATION,
    OPERATION_ID,
    OPERATION_NAMES,
    SECTION_OF_KIND,
    AccountChanges,
    ActivateSharePlan,
    AddAccountPackage,
    AddAccountService,
    AddRate,
    AddUsageIdentifier,
    AttachBucket,
    CancelAccount,
    CancelAccountPackage,
    CancelAccountService,
    CancelBucket,
    CancelSharePlan,
    CreateAccount,
    DeleteCatalogEntity,
    EndUsageIdentifier,
    Kind,
    Operation,
    OperationId,
    PackageChanges,
    PutCatalogEntity,
    ReplaceCatalog,
    ServiceChanges,
    SetSharePlanActive,
    UpdateAccount,
    UpdateAccountPackage,
    UpdateAccountService,
    operation_label,
    parse_operation,
)

__all__ = [
    "OPERATION",
    "OPERATION_ID",
    "OPERATION_NAMES",
    "SECTION_OF_KIND",
    "AccountChanges",
    "ActivateSharePlan",
    "AddAccountPackage",
    "AddAccountService",
    "AddRate",
    "AddUsageIdentifier",
    "AttachBucket",
    "CancelAccount",
    "CancelAccountPackage",
    "CancelAccountService",
    "CancelBucket",
    "CancelSharePlan",
    "Config",
    "CreateAccount",
    "DeleteCatalogEntity",
    "EndUsageIdentifier",
    "Kind",
    "Operation",
    "OperationId",
    "PackageChanges",
    "ProvisioningError",
    "PutCatalogEntity",
    "ReplaceCatalog",
    "ServiceChanges",
    "SetSharePlanActive",
    "UpdateAccount",
    "UpdateAccountPackage",
    "UpdateAccountService",
    "account_json",
    "accounts_document",
    "apply",
    "cancelled_services",
    "compile_config",
    "operation_label",
    "parse_operation",
]
