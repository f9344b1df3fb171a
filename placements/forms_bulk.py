"""Forms of bulk reporting: the upload and the confirmation. They reuse the contract import's
forms (the same file checks: .xlsx only, tailored advice for .xls/.csv/.ods, at most 5 MB)."""

from django.utils.translation import gettext_lazy as _

from contracts.forms_import import ContractImportConfirmForm, ContractImportForm


class BulkUploadForm(ContractImportForm):
    """The filled-in template (.xlsx)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "The filled-in template (.xlsx), at most 5 MB and 5,000 contributions."
        )


class BulkConfirmForm(ContractImportConfirmForm):
    """Confirms the file that was checked: its SHA-256 must match the stored upload."""
