//! Data compiled into mamori: the message catalog (ja default, en available) and, as they come,
//! the regulatory rule packs. Files live under `data/` and are validated by this crate's tests.

pub mod checklist;
pub mod messages;

pub use messages::{Lang, tr};
