"""Forms of the spreadsheet import: the upload and the confirmation."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .importing import MAX_UPLOAD_BYTES, XLSX_CONTENT_TYPE

# Tailored advice for the file types people upload by mistake.
_WRONG_TYPES = {
    ".xls": _("This is an old Excel file (.xls). Open it in Excel and save it as .xlsx."),
    ".xlsm": _("Workbooks with macros (.xlsm) are not accepted. Save the file as .xlsx."),
    ".csv": _("A CSV file has no column types. Open it in Excel and save it as .xlsx."),
    ".ods": _("This is an OpenDocument spreadsheet. Save it as an Excel workbook (.xlsx)."),
}


class ContractImportForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet (.xlsx)"),
        help_text=_("An Excel workbook made from the template, at most 5 MB and 5,000 rows."),
        widget=forms.ClearableFileInput(attrs={"accept": f".xlsx,{XLSX_CONTENT_TYPE}"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(max)s MB. Split it into smaller files."),
                code="too_large",
                params={"max": MAX_UPLOAD_BYTES // (1024 * 1024)},
            )
        if not name.endswith(".xlsx"):
            for extension, message in _WRONG_TYPES.items():
                if name.endswith(extension):
                    raise forms.ValidationError(message, code="wrong_type")
            raise forms.ValidationError(
                _("Upload an Excel workbook (.xlsx), preferably made from the template."),
                code="wrong_type",
            )
        upload.seek(0)
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(max)s MB. Split it into smaller files."),
                code="too_large",
                params={"max": MAX_UPLOAD_BYTES // (1024 * 1024)},
            )
        self.file_bytes = data
        return upload


class ContractImportConfirmForm(forms.Form):
    """Confirms the file that was checked: its SHA-256 must match the stored upload."""

    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
