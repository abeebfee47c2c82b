"""CSV downloads open in a spreadsheet as data: no cell can run as a formula."""
import csv
import io

from console.reports.csv_download import csv_text, safe_cell


def test_cells_that_start_a_formula_are_quoted():
    for text in ("=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("Málaga flat") == "Málaga flat" and safe_cell("a=b") == "a=b"


def test_numbers_booleans_and_none_stay_plain():
    assert (safe_cell(-20), safe_cell(3.5), safe_cell(True), safe_cell(False), safe_cell(None)) == \
        ("-20", "3.5", "yes", "no", "")


def test_csv_text_reads_back_as_the_rows():
    text = csv_text(["name", "n"], [["=cmd|' /C calc'!A0", 1], ['say "hi", twice', -1]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "n"], ["'=cmd|' /C calc'!A0", "1"], ['say "hi", twice', "-1"]]


def test_every_csv_download_is_streamed_named_and_never_cached(app):
    from console.reports.csv_download import csv_response
    read = []

    def rows():  # read lazily, as the property list reads its rows from the database
        for n in range(3):
            read.append(n)
            yield [f"Flat {n}", n]
    with app.test_request_context("/"):
        resp = csv_response("flats.csv", ["name", "n"], rows())
        assert resp.is_streamed and read == []  # nothing read before the response is sent
        body = resp.get_data(as_text=True)
    assert body.startswith("\ufeff")
    assert body[1:].splitlines() == ["name,n", "Flat 0,0", "Flat 1,1", "Flat 2,2"]
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="flats.csv"'
    assert resp.cache_control.private and resp.cache_control.no_store
