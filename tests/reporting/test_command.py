"""``manage.py export_report`` writes the same workbook, logged as a command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from reporting.models import ExportLog


def test_command_writes_a_valid_workbook(dataset, tmp_path):
    out = tmp_path / "noordwijk.xlsx"
    stdout = StringIO()
    call_command(
        "export_report",
        "--municipality",
        "noordwijk",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--as-of",
        "2026-11-20",
        "--out",
        str(out),
        stdout=stdout,
    )
    assert "7 contracts" in stdout.getvalue()
    wb = load_workbook(out)
    assert wb.sheetnames == ["Samenvatting", "Opdrachten", "Inzet", "Definities"]
    assert wb["Opdrachten"].max_row == 8
    assert wb["Samenvatting"]["B2"].value == "Noordwijk"
    assert not list(tmp_path.glob(".*partial"))
    log = ExportLog.objects.get()
    assert log.kind == "command" and log.user is None
    assert log.actor.startswith("manage.py export_report")
    assert str(log.period_from) == "2026-01-01" and str(log.as_of) == "2026-11-20"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--municipality", "Atlantis"], "No municipality named"),
        (["--from", "2026-13-01"], "Not a date"),
        (["--to", "2025-01-01"], "before --from"),
        (["--as-of", "2999-01-01"], "future"),
        (["--out", "report.csv"], ".xlsx"),
    ],
)
def test_command_refuses_bad_arguments(dataset, tmp_path, args, message):
    options = {
        "--municipality": "Noordwijk",
        "--from": "2026-01-01",
        "--to": "2026-12-31",
        "--out": str(tmp_path / "r.xlsx"),
    }
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    if options["--out"] == "report.csv":
        options["--out"] = str(tmp_path / "report.csv")
    argv = [item for pair in options.items() for item in pair]
    with pytest.raises(CommandError, match=message):
        call_command("export_report", *argv)
    assert not ExportLog.objects.exists()
