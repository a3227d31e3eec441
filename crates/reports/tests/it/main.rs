//! Integration tests of the reports crate: the checklist form rendered as print HTML, XLSX and
//! PDF from a realistic sample (the 19 R7 items).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod form_html;
mod form_pdf;
mod form_xlsx;
mod sample;
