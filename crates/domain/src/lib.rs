//! Entities, value types and pure rules of mamori.
//!
//! Nothing here performs I/O, reads the clock or knows about serde: time and data come in as
//! values, results go out as values. Everything a user sees is a code here (`as_str`), which the
//! message catalog turns into Japanese or English.

pub mod account_import;
pub mod account_review;
pub mod account_source;
pub mod alert;
pub mod audit;
pub mod break_glass;
pub mod checklist;
pub mod directory;
pub mod event;
pub mod facility;
pub mod findings;
pub mod ids;
pub mod incident;
pub mod ledger;
pub mod lockout;
pub mod password;
pub mod period;
pub mod registry;
pub mod role;
pub mod service_baseline;
pub mod wareki;

pub use ids::{AccountId, AssetId, PersonId, SystemId, UserId, VendorId};
