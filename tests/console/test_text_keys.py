"""Folded search text and natural sort keys (console/models/text_keys.py)."""
from console.models.text_keys import fold, name_key, search_key
from console.reports.csv_download import csv_lines, safe_cell


def test_fold_drops_case_and_accents():
    assert fold("Málaga") == fold("MÁLAGA") == fold("malaga") == "malaga"
    assert fold("Café Ñandú") == "cafe nandu"
    assert fold("Straße") == "strasse"
    assert fold(None) == ""


def test_name_key_orders_digit_runs_by_value():
    names = ["Flat 43", "flat 5", "Flat 44", "Flat 045b", "Flat 100", "Ático 2"]
    assert sorted(names, key=name_key) == ["Ático 2", "flat 5", "Flat 43", "Flat 44", "Flat 045b", "Flat 100"]


def test_search_key_keeps_fields_apart():
    key = search_key("Casa Sol", "Málaga", "REF-9")
    assert "malaga" in key and "ref-9" in key and "casa sol" in key
    assert "sol malaga" not in key  # a term never spans two fields


def test_cells_that_a_spreadsheet_would_run_are_neutralised():
    assert [safe_cell(v) for v in ("=1+1", "+34 600", "-2", "@SUM(A1)", "Flat 5", None, 7)] == \
        ["'=1+1", "'+34 600", "'-2", "'@SUM(A1)", "Flat 5", "", "7"]
    assert "".join(csv_lines(["a", "b"], [["=x", 'say "hi"']])) == 'a,b\r\n\'=x,"say ""hi"""\r\n'
