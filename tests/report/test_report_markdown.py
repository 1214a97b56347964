"""The report stays under GitHub's comment limit, losing the least important parts first."""

from __future__ import annotations

from mlship.report.markdown import MARKER, Section, assemble, cell

HEADER = f"{MARKER}\n## ❌ Metric gate: fail"


def _sections(big: int) -> list[Section]:
    table = "\n".join(f"| row {i} | {'x' * 40} |" for i in range(big))
    return [
        Section("Metrics", ("| roc_auc | 0.8 | 0.7 |",), 0),
        Section("Data diff", (table, table[: len(table) // 4], "12 columns shifted."), 2),
        Section("Plots", ("![roc](plots/pr_roc.png)\n" * 50,), 5),
    ]


def test_short_report_is_rendered_whole_with_the_marker_first() -> None:
    text = assemble(HEADER, _sections(5), 65_000)
    assert text.startswith(MARKER)
    assert "### Plots" in text and "row 4" in text and "Omitted" not in text


def test_long_report_drops_optional_sections_before_shortening_tables() -> None:
    full = assemble(HEADER, _sections(60), 1_000_000)
    without_plots = len(full) - len("![roc](plots/pr_roc.png)\n" * 50) + 200
    text = assemble(HEADER, _sections(60), without_plots)
    assert len(text) <= without_plots
    assert "### Plots" not in text and "Omitted to stay under GitHub's comment limit: plots" in text
    assert "row 59" in text  # the table is still whole


def test_very_long_report_shortens_tables_then_keeps_the_verdict() -> None:
    text = assemble(HEADER, _sections(5000), 20_000)
    assert len(text) <= 20_000
    assert text.startswith(HEADER)
    assert "### Metrics" in text and "### Data diff" in text
    assert "row 4999" not in text


def test_report_is_cut_hard_when_even_the_essentials_are_too_long() -> None:
    huge = [Section("Metrics", ("| m |\n" * 10_000,), 0)]
    text = assemble(HEADER, huge, 5_000)
    assert len(text) <= 5_000
    assert text.startswith(MARKER) and text.rstrip().endswith("comment limit._")


def test_table_cells_escape_pipes_and_newlines_and_cap_length() -> None:
    assert cell("a|b\nc") == "a\\|b c"
    assert len(cell("x" * 500)) == 120
