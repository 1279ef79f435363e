"""The Datasets page's queries: paging, filters, search, histograms, gene detail, SQL box."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from cre_core.data.lookup import UnknownGeneError
from cre_core.data.store import create_schema
from cre_core.query import browse, sql_box


@pytest.fixture
def con(tiny_workspace):
    c = tiny_workspace.connect(read_only=True)
    yield c
    c.close()


@pytest.fixture
def hand_store(tmp_path):
    """A hand-made store: 3 genes, 2 pairs, 3 raw rows (ts, deletion, damp; two temperatures)."""
    db = tmp_path / "cre.duckdb"
    c = duckdb.connect(str(db))
    create_schema(c)
    c.execute("""INSERT INTO genes VALUES
        ('YAL001C', 'TFC3', 'chrI', 100, 900, '-', 'Verified', 100, 900),
        ('YAL002W', 'VPS8', 'chrI', 1000, 2000, '+', 'Verified', 1000, 2000),
        ('YBR001C', 'YBR001C', 'chrII', 50, 500, '-', 'Dubious', 50, 500)""")
    c.execute("INSERT INTO smf VALUES ('YAL001C', 0.9, 0.01, 2), ('YAL002W', 0.5, 0.02, 1)")
    c.execute("""INSERT INTO dmf VALUES
        ('YAL001C', 'YAL002W', 0.30, 0.02, 2, -0.15),
        ('YAL002W', 'YBR001C', 0.80, 0.01, 1, 0.01)""")
    c.execute("""INSERT INTO sga VALUES
        ('SGA_ExE.txt', 'YAL001C_tsq1', 'tfc3-1', 'YAL002W_dma2', 'vps8', 'TSA26', 'YAL001C', 'YAL002W', 'ts', 'deletion', 26, -0.20, 0.001, 0.9, 0.5, 0.25, 0.02),
        ('SGA_ExN_NxE.txt', 'YAL002W_sn3', 'vps8', 'YAL001C_dma1', 'tfc3', 'DMA30', 'YAL002W', 'YAL001C', 'deletion', 'deletion', 30, -0.10, 0.2, 0.5, 0.9, 0.35, 0.02),
        ('SGA_DAmP.txt', 'YAL002W_sn3', 'vps8', 'YBR001C_damp4', 'ybr001c-damp', 'DMA30', 'YAL002W', 'YBR001C', 'deletion', 'damp', 30, 0.01, 0.9, 0.5, 1.0, 0.80, 0.01)""")
    c.execute("INSERT INTO windows VALUES ('YAL001C', 'upstream', 'NNGGCCAT', true, 2), ('YAL001C', 'downstream', 'TAAGC', false, 0)")
    c.close()
    c = duckdb.connect(str(db), read_only=True)
    yield c, db
    c.close()


def test_every_table_pages_with_names(con):
    for table, spec in browse.TABLES.items():
        page = browse.browse(con, table, page=1, page_size=7)
        assert page.total == con.execute(f"SELECT count(*) FROM {spec.source}").fetchone()[0]
        assert len(page.rows) == min(7, page.total)
        for col in spec.columns:
            assert col in page.rows.columns


def test_pages_cover_the_table_exactly_once(con):
    total = browse.count_rows(con, "dmf")
    seen = []
    page_size = 1000
    for p in range(1, -(-total // page_size) + 1):
        rows = browse.browse(con, "dmf", page=p, page_size=page_size, total=total).rows
        seen += list(zip(rows["gene_a"], rows["gene_b"]))
    assert len(seen) == total == len(set(seen))


def test_page_beyond_the_end_is_clamped_to_the_last(con):
    page = browse.browse(con, "smf", page=10**9, page_size=50)
    assert page.page == page.n_pages and 0 < len(page.rows) <= 50


def test_search_by_standard_or_systematic_name_any_case(hand_store):
    c, _ = hand_store
    assert browse.search_genes(c, "tfc3") == ["YAL001C"]
    assert browse.search_genes(c, "yal001c") == ["YAL001C"]
    assert browse.search_genes(c, "YAL00") == ["YAL001C", "YAL002W"]     # prefix
    assert browse.search_genes(c, "nothing") == []
    assert browse.search_genes(c, "%") == []                              # LIKE wildcards are literal
    page = browse.browse(c, "dmf", browse.Filters(search="VPS8"))
    assert page.total == 2 and page.matched_genes == ["YAL002W"]
    assert list(page.rows["a_name"]) == ["TFC3", "VPS8"]


def test_unknown_search_gives_an_empty_page(hand_store):
    c, _ = hand_store
    page = browse.browse(c, "sga", browse.Filters(search="nope"))
    assert page.total == 0 and page.rows.empty and page.matched_genes == []


def test_filters_kinds_temperature_significance_fitness(hand_store):
    c, _ = hand_store
    count = lambda **kw: browse.count_rows(c, "sga", browse.Filters(**kw))  # noqa: E731
    assert count() == 3
    assert count(kinds=("deletion",)) == 1                 # both alleles must be deletions
    assert count(kinds=("deletion", "damp")) == 2
    assert count(temperatures=(26,)) == 1
    assert count(significant=True) == 1                    # p < 0.05 and |ε| > 0.08
    assert count(fitness_min=0.3, fitness_max=0.9) == 2
    assert browse.count_rows(c, "dmf", browse.Filters(significant=True)) == 1   # no p-value: |ε| only
    assert browse.count_rows(c, "genes", browse.Filters(fitness_max=0.6)) == 1  # genes filter on SMF


def test_user_text_is_a_parameter_not_sql(hand_store):
    c, _ = hand_store
    nasty = "x' OR '1'='1"
    assert browse.browse(c, "genes", browse.Filters(search=nasty)).total == 0
    with pytest.raises(browse.CreError):
        browse.browse(c, "dmf", sort="fitness; DROP TABLE dmf")
    with pytest.raises(browse.CreError):
        browse.spec("dmf; DROP TABLE dmf")


def test_sort(hand_store):
    c, _ = hand_store
    rows = browse.browse(c, "dmf", sort="fitness", descending=True).rows
    assert list(rows["fitness"]) == [0.80, 0.30]


def test_histogram_counts_every_matching_row(con):
    for table, spec in browse.TABLES.items():
        for column in spec.histograms:
            bins = browse.histogram(con, table, column, bins=25)
            n = con.execute(f"SELECT count({column}) FROM ({browse._source_sql(spec)})").fetchone()[0]
            assert bins["count"].sum() == n
            assert len(bins) <= 25 and (bins["end"] > bins["start"]).all()


def test_histogram_bins_hold_their_values(hand_store):
    c, _ = hand_store
    bins = browse.histogram(c, "dmf", "fitness", bins=5)
    assert bins["count"].sum() == 2
    assert bins["start"].min() == pytest.approx(0.30) and bins["end"].max() == pytest.approx(0.80)
    assert browse.histogram(c, "dmf", "fitness", browse.Filters(search="nope")).empty


def test_gene_detail(hand_store):
    c, _ = hand_store
    d = browse.gene_detail(c, "vps8")
    assert d.gene == "YAL002W" and d.smf["fitness"] == 0.5 and d.n_pairs == 2
    assert list(d.partners["partner"]) == ["YAL001C", "YBR001C"]       # largest |ε| first
    assert list(d.partners["name"]) == ["TFC3", "YBR001C"]
    up = browse.gene_detail(c, "TFC3").windows.set_index("region")
    assert up.loc["upstream", "length"] == 8 and bool(up.loc["upstream", "padded"])
    assert up.loc["upstream", "gc_percent"] == pytest.approx(100 * 4 / 6, abs=0.1)   # N pads left out
    with pytest.raises(UnknownGeneError) as err:
        browse.gene_detail(c, "TFC")
    assert any("TFC3" in s for s in err.value.suggestions)


def test_distinct_values(hand_store):
    c, _ = hand_store
    assert browse.distinct_values(c, "sga") == {"kinds": ["damp", "deletion", "ts"], "temperatures": [26, 30]}
    assert browse.distinct_values(c, "dmf") == {"kinds": [], "temperatures": []}


def test_sql_box_runs_one_read_only_statement(hand_store):
    _, db = hand_store                      # the store is also open read-only in this process
    res = sql_box.run_readonly_sql(db, "SELECT * FROM dmf ORDER BY fitness", row_limit=1)
    assert len(res.frame) == 1 and res.truncated and res.frame["fitness"][0] == 0.30
    assert not sql_box.run_readonly_sql(db, "SELECT count(*) AS n FROM genes").truncated
    assert isinstance(sql_box.run_readonly_sql(db, "SHOW TABLES").frame, pd.DataFrame)


@pytest.mark.parametrize("sql, message", [
    ("DROP TABLE dmf", "not allowed"),
    ("INSERT INTO meta VALUES ('a', 'b')", "not allowed"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("COPY dmf TO 'out.csv'", "not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "disabled"),
    ("SELECT * FROM nope", "nope"),
    ("SELEC 1", "syntax error"),
    ("", "type a query"),
])
def test_sql_box_refuses(hand_store, sql, message):
    _, db = hand_store
    with pytest.raises(sql_box.SqlBoxError, match=message):
        sql_box.run_readonly_sql(db, sql)


def test_sql_box_time_limit(hand_store):
    _, db = hand_store
    with pytest.raises(sql_box.SqlBoxError, match="time limit"):
        sql_box.run_readonly_sql(db, "SELECT count(*) FROM range(1000000000000) a", time_limit_s=0.3)


def test_sorted_pages_cover_every_row_once_despite_ties(con):
    total = browse.count_rows(con, "sga")
    pages = [browse.browse(con, "sga", page=p, page_size=1000, sort="epsilon", total=total).rows
             for p in range(1, -(-total // 1000) + 1)]
    seen = [row for rows in pages for row in rows.itertuples(index=False, name=None)]
    assert len(seen) == total
    assert len(set(seen)) == con.execute("SELECT count(*) FROM (SELECT DISTINCT * FROM sga)").fetchone()[0]
    eps = [e for rows in pages for e in rows["epsilon"].dropna()]
    assert eps == sorted(eps)


@pytest.mark.parametrize("table", ["dmf", "sga"])
@pytest.mark.parametrize("search", ["YAL001W", "YB", "YDR0"])
def test_gene_search_union_equals_a_plain_or(con, table, search):
    """The pushed-down UNION ALL of a pair-table search returns exactly the rows (and stored
    order) of the plain ``a IN (...) OR b IN (...)`` query."""
    spec = browse.TABLES[table]
    genes = browse.search_genes(con, search)
    a, b = spec.gene_columns
    marks = ", ".join("?" * len(genes))
    expected = con.execute(
        f"SELECT {', '.join(spec.columns)} FROM {spec.source} WHERE {a} IN ({marks}) OR {b} IN ({marks}) "
        "ORDER BY rowid", genes + genes).df()
    filters = browse.Filters(search=search)
    assert browse.count_rows(con, table, filters) == len(expected)
    got = pd.concat([browse.browse(con, table, filters, page=p, page_size=97).rows
                     for p in range(1, -(-len(expected) // 97) + 1)], ignore_index=True)
    pd.testing.assert_frame_equal(got[list(spec.columns)], expected, check_dtype=False)
    hist = browse.histogram(con, table, spec.epsilon, filters)
    assert hist["count"].sum() == expected[spec.epsilon].notna().sum()
