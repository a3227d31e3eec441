//! Integration tests of the server: real HTTP against the real server over a fresh database
//! (SQLite, or PostgreSQL when `MAMORI_TEST_POSTGRES` is set).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod account_findings;
mod account_import;
mod account_reviews;
mod agents;
mod alerts;
mod audit;
mod auth;
mod break_glass;
mod checklist;
mod cli;
mod collect;
mod csv_profiles;
mod detection;
mod directory;
mod documents;
mod durability;
mod import;
mod incidents;
mod ledger;
mod logs;
mod notify;
mod registries;
mod requests;
mod roles;
mod seal;
mod setup;
mod vendor_forms;
mod webauthn;
