//! What the tests that need the real machine share: running a command, and a loop device
//! (root only) that is left read-write and detached when dropped.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cmd` and returns what it printed (panics only when it cannot be started).
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// A loop device over a file of its own.
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub node: String,
    /// `loopN`.
    pub name: String,
    _dir: tempfile::TempDir,
}

impl LoopDevice {
    /// A loop device over a `mib` MiB file, read-write; `None` (said on stderr) when this
    /// machine has no root or no loop devices.
    pub fn attach(mib: u64) -> Option<LoopDevice> {
        let root = run("id", &["-u"]).stdout == b"0\n";
        if !root || !Path::new("/dev/loop-control").exists() {
            eprintln!("skipped: needs root and loop devices");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        let out = run("losetup", &["--find", "--show", img.to_str().unwrap()]);
        if !out.status.success() {
            eprintln!(
                "skipped: no loop device: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let node = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let name = node.trim_start_matches("/dev/").to_string();
        // A loop device keeps its read-only flag after it is detached: start from read-write.
        run("blockdev", &["--setrw", &node]);
        Some(LoopDevice {
            node,
            name,
            _dir: dir,
        })
    }
}

impl Drop for LoopDevice {
    /// Read-write again (for whoever takes the device next), then detached.
    fn drop(&mut self) {
        run("blockdev", &["--setrw", &self.node]);
        run("losetup", &["-d", &self.node]);
    }
}
