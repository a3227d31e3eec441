//! Integration tests of the ledger decoders, with fixtures built in the tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod csv;
mod robustness;
mod text;
mod xlsx;

use mamori_ingest::Table;

/// The rows of a table as (line, cells) for compact assertions.
pub fn rows(t: &Table) -> Vec<(usize, Vec<&str>)> {
    t.rows
        .iter()
        .map(|r| (r.line, r.cells.iter().map(String::as_str).collect()))
        .collect()
}

/// The diagnostics of a table as (line, column, code).
pub fn diags(t: &Table) -> Vec<(usize, Option<&str>, &str)> {
    t.diagnostics
        .iter()
        .map(|d| (d.line, d.column.as_deref(), d.code))
        .collect()
}

/// The ledger used across tests, as CSV text with CRLF line ends (as Excel writes it).
pub const LEDGER_CSV: &str = "機器名,設置場所,導入年月\r\n受付PC,受付,2021/4\r\n\"電子カルテ サーバ\",\"サーバ室\r\n(2F)\",令和3年4月\r\n\r\n レセコン ,医事課,R3.4\r\n";
