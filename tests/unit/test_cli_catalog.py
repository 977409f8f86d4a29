"""The ``rater catalog`` commands, run in-process: ``check DIR`` and ``can-delete DIR KIND ID``
(exit codes: 0 success, 1 validation errors or refusal, 2 usage errors; ``rater.cli``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from rater.cli import main
from tests.unit.catalog_builders import account, write_catalog, write_subscriptions

E07 = Path(__file__).resolve().parents[2] / "examples" / "E07-rounding-rule"


@pytest.fixture
def e07_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "E07"
    shutil.copytree(E07, folder)
    return folder


def _replace_once(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1
    file.write_text(text.replace(old, new), encoding="utf-8")


# --- catalog check -------------------------------------------------------------------------------------


def test_check_of_the_e07_example_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    """R29/E7: the E07 rounding-rule folder (catalog and subscriptions) is valid: exit 0 and a summary."""
    assert main(["catalog", "check", str(E07)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        f"{E07}: ok (2 usage classes, 1 rate plans, 0 usage buckets, 0 share plans, 1 services, 1 packages; "
        "0 warning(s))\n"
    )


def test_check_with_a_broken_reference_fails_naming_entity_and_field(
    e07_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """validate/ "every reference resolves": a copy of E07 whose rate names a missing rounding rule is
    refused (exit 1); stderr names the file, the rate plan and the field."""
    catalog_file = e07_copy / "catalog.yaml"
    _replace_once(catalog_file, "rounding_rule: MIN60-INC6}", "rounding_rule: MIN60-INC5}")
    assert main(["catalog", "check", str(e07_copy)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"error: {catalog_file}: rate_plan 'RP-VOICE', field rate_groups[0].rates[0].rounding_rule: "
        "unknown rounding rule 'MIN60-INC5'",
        f"{e07_copy}: 1 error(s), 0 warning(s)",
    ]


def test_check_also_validates_subscriptions(e07_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cli.py: `catalog check` validates DIR/subscriptions.yaml against the catalog too (an account's
    unknown rate plan is refused, naming the account and the field)."""
    subscriptions_file = e07_copy / "subscriptions.yaml"
    _replace_once(subscriptions_file, "rate_plan: RP-VOICE", "rate_plan: RP-DATA")
    assert main(["catalog", "check", str(e07_copy)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"error: {subscriptions_file}: account 'ACC-1', field rate_plan: unknown rate plan 'RP-DATA'",
        f"{e07_copy}: 1 error(s), 0 warning(s)",
    ]


def test_check_reports_warnings_but_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """R27: a rate plan without a group in the account currency is a warning: printed, exit 0."""
    write_catalog(tmp_path)
    subscriptions_file = write_subscriptions(
        tmp_path, lambda d: account(d, "ACC-C").update({"currency": "EUR", "rate_plan": "RP-1"})
    )
    assert main(["catalog", "check", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"warning: {subscriptions_file}: account 'ACC-C', field rate_plan: rate plan 'RP-1' has no rate group "
        "in EUR (R27)\n"
        f"warning: {subscriptions_file}: account 'ACC-C', field packages[0].frequency: rate plan 'RP-1' has no "
        "rate group in EUR (R27)\n"
    )
    assert out == (
        f"{tmp_path}: ok (4 usage classes, 2 rate plans, 6 usage buckets, 3 share plans, 4 services, "
        "3 packages; 2 warning(s))\n"
    )


def test_check_of_a_single_catalog_file(capsys: pytest.CaptureFixture[str]) -> None:
    """load.py catalog_files: DIR may be a catalog file itself."""
    assert main(["catalog", "check", str(E07 / "catalog.yaml")]) == 0
    assert capsys.readouterr().out.startswith(f"{E07 / 'catalog.yaml'}: ok (2 usage classes")


def test_check_of_a_folder_without_subscriptions_says_it_checked_the_catalog_only(
    e07_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder without subscriptions.yaml (or a catalog file given directly) is a valid catalog: exit 0,
    but the ok line says the accounts were not checked, so a missing file is not taken for valid accounts."""
    (e07_copy / "subscriptions.yaml").unlink()
    assert main(["catalog", "check", str(e07_copy)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        f"{e07_copy}: ok (2 usage classes, 1 rate plans, 0 usage buckets, 0 share plans, 1 services, 1 packages; "
        "0 warning(s)); catalog only: no subscriptions.yaml checked\n"
    )
    assert main(["catalog", "check", str(E07 / "catalog.yaml")]) == 0
    assert capsys.readouterr().out.endswith("; catalog only: no subscriptions.yaml checked\n")


# --- rate ----------------------------------------------------------------------------------------------


def test_rate_without_subscriptions_is_a_folder_error(e07_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``rater rate DIR`` needs DIR/subscriptions.yaml: without it every record would silently be a "No UDR
    Usage Identifier match" exception (R2).  Exit 1, one error naming the file, nothing on stdout."""
    (e07_copy / "subscriptions.yaml").unlink()
    assert main(["rate", str(e07_copy), "--summary"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"error: {e07_copy / 'subscriptions.yaml'}: subscriptions: not found: a rating folder holds "
        "subscriptions.yaml (write 'accounts: []' for none)\n"
    )


def test_rate_with_no_accounts_on_purpose_rates_every_record_as_unowned(
    e07_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``accounts: []`` is "no accounts" said on purpose: E07's four records are rated to four
    "No UDR Usage Identifier match" exceptions (R2), then the summary line counts them (4 + 1 = 5 lines),
    exit 0."""
    (e07_copy / "subscriptions.yaml").write_text("accounts: []\n", encoding="utf-8")
    assert main(["rate", str(e07_copy), "--summary"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = orjson.loads(lines[-1])
    assert (len(lines), summary["records"], summary["exceptions"]) == (5, 4, {"no_usage_identifier_match": 4})


def test_rate_without_usage_is_a_folder_error(e07_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``rater rate DIR`` reads DIR/usage.jsonl: without it, exit 1 and an error naming it (it was a
    traceback)."""
    (e07_copy / "usage.jsonl").unlink()
    assert main(["rate", str(e07_copy)]) == 1
    assert capsys.readouterr().err == (
        f"error: {e07_copy / 'usage.jsonl'}: not found: rater rate reads DIR/usage.jsonl (see rater rate --help)\n"
    )


def test_rate_help_describes_the_folder_and_the_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    """``rater rate --help`` names the files of a rating folder and says that --summary adds a line."""
    with pytest.raises(SystemExit) as stopped:
        main(["rate", "--help"])
    assert stopped.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in (
        "catalog.yaml or catalog/",
        "subscriptions.yaml the accounts (docs/subscriptions.md); required",
        "usage.jsonl one usage record per line",
        "expected.yaml optional, not read here",
        "--summary after the outcomes, write one more line: a JSON summary",
    ):
        assert text in out


# --- catalog can-delete --------------------------------------------------------------------------------


def test_can_delete_refuses_an_entity_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    """Seeds 000/003/004 (in use cannot be deleted): in E07 the usage class VOICE is used by a rate, so
    can-delete exits 1 naming the referrer."""
    assert main(["catalog", "can-delete", str(E07), "usage_class", "VOICE"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "refused: usage_class 'VOICE' is in use and cannot be deleted: referenced by rate_plan 'RP-VOICE' "
        "group 'STANDARD'\n"
    )


def test_can_delete_refuses_a_share_plan_on_an_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 000: a share plan added to an account cannot be deleted (exit 1)."""
    write_catalog(tmp_path)
    write_subscriptions(tmp_path)
    assert main(["catalog", "can-delete", str(tmp_path), "share_plan", "SP-PKG"]) == 1
    assert capsys.readouterr().err == (
        "refused: share_plan 'SP-PKG' is in use and cannot be deleted: referenced by account 'ACC-P'\n"
    )


def test_can_delete_allows_an_unused_entity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 004: a base bucket on no usage bucket or share plan may be deleted (exit 0)."""
    write_catalog(tmp_path)
    write_subscriptions(tmp_path)
    assert main(["catalog", "can-delete", str(tmp_path), "base_bucket", "BB-SPARE"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("base_bucket 'BB-SPARE' is not in use and may be deleted\n", "")


def test_can_delete_allows_an_unused_entity_added_to_e07(e07_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """integrity.py: a usage class no rate or base bucket names may be deleted (exit 0)."""
    _replace_once(
        e07_copy / "catalog.yaml",
        "usage_classes:\n",
        "usage_classes:\n  - {id: SMS, name: SMS, rater: class, unit_type: count}\n",
    )
    assert main(["catalog", "can-delete", str(e07_copy), "usage_class", "SMS"]) == 0
    assert capsys.readouterr().out == "usage_class 'SMS' is not in use and may be deleted\n"


def test_can_delete_unknown_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """cli.py: an entity that does not exist is a usage error (exit 2), not a yes."""
    assert main(["catalog", "can-delete", str(E07), "usage_class", "NOPE"]) == 2
    assert capsys.readouterr().err == "error: no usage_class 'NOPE' in the catalog\n"


def test_can_delete_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """cli.py: KIND is one of the integrity kinds; anything else is an argparse usage error (exit 2)."""
    with pytest.raises(SystemExit) as caught:
        main(["catalog", "can-delete", str(E07), "tier", "T1"])
    assert caught.value.code == 2
    assert "invalid choice: 'tier'" in capsys.readouterr().err


def test_can_delete_on_an_invalid_folder_lists_the_errors(e07_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cli.py: can-delete needs a valid catalog; otherwise it prints the errors and exits 1."""
    catalog_file = e07_copy / "catalog.yaml"
    _replace_once(catalog_file, "{class: VOICE, amount", "{class: VOICE-X, amount")
    assert main(["catalog", "can-delete", str(e07_copy), "usage_class", "VOICE-SEED"]) == 1
    assert capsys.readouterr().err == (
        f"error: {catalog_file}: rate_plan 'RP-VOICE', field rate_groups[0].rates[0].class: "
        "unknown usage class 'VOICE-X'\n"
    )
