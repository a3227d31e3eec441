//! mamori-agent: the endpoint agent. It talks to the server only through `client`/`proto` and
//! never links server-side crates.
//!
//! So far: [`inventory`], what a Linux machine is made of, read from its files; and [`spool`],
//! the durable, bounded queue on disk that holds events and inventory until the server
//! acknowledges them.

pub mod inventory;
pub mod spool;
