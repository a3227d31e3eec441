//! mamori-agent: the endpoint agent. It talks to the server only through `client`/`proto` and
//! never links server-side crates.
//!
//! Modules:
//! - [`inventory`]: what a Linux machine is made of, read from its files, and diffs between
//!   inventories;
//! - [`updates`]: pending security updates from apt's security index;
//! - [`rpm`]: packages and pending security updates on rpm-based systems (rpm, dnf);
//! - [`clock`]: the clock against the facility's time server;
//! - [`usb`]: removable-media control through the kernel's USB authorisation;
//! - [`enforce`]: the control loop: kernel device messages → policy → durable log → authorised,
//!   read-only block devices, and the `unlock` command's state;
//! - `medialog` (Linux): the device-operation log, files written to mounted USB media;
//! - [`unlock`]: emergency unlock codes verified offline;
//! - [`spool`]: the durable, bounded queue on disk that holds events and inventory until the
//!   server acknowledges them;
//! - [`state`]: the identity, last good policy and last inventory kept on disk;
//! - [`run`]: enrolment and the cycle (inventory into the spool, the spool to the server, the
//!   signed policy back).

pub mod clock;
pub mod enforce;
pub mod inventory;
#[cfg(target_os = "linux")]
pub mod medialog;
pub mod rpm;
pub mod run;
pub mod spool;
pub mod state;
pub mod unlock;
pub mod updates;
pub mod usb;
