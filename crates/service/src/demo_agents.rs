//! The demo's endpoint agents: three Linux machines of the sample clinic that run
//! `mamori-agent`, each telling part of the story an inspector should find on 端末エージェント.
//!
//! - `sv-mamori01`, the server mamori itself runs on: in the ledger, disks encrypted, patched;
//! - `pacs-view01`, an image-viewer PC the PACS vendor installed (Ubuntu 20.04, 14 security
//!   updates pending, disk not encrypted, a USB stick plugged in): not in the ledger;
//! - `signage-01`, the waiting-room display: not heard from for twelve days.
//!
//! Pure: the same `now` gives the same inventories.

use mamori_domain::ledger::{Asset, AssetClass};
use mamori_proto::agent::{
    ClockCheck, Decision, DecisionRecord, Device, DeviceClass, Disk, EntryBody, FileWrite,
    Hardware, Interface, Inventory, Listening, LocalAccount, Mode, Os, Package, PendingUpdate,
    UsbDevice,
};

const DAY: i64 = 86_400_000;

/// One demo agent: what enrolment and its last upload would have stored.
#[derive(Debug, Clone)]
pub struct DemoAgent {
    pub hostname: &'static str,
    pub machine_id: &'static str,
    pub groups: &'static str,
    pub note: &'static str,
    pub enrolled_ms: i64,
    pub last_seen_ms: i64,
    pub peer: &'static str,
    pub inventory: Inventory,
    /// The ledger entry it is tied to, when it is in the ledger.
    pub asset: Option<Asset>,
}

fn packages(list: &[(&str, &str)]) -> Vec<Package> {
    let mut out: Vec<Package> = list
        .iter()
        .map(|(n, v)| Package {
            name: (*n).to_string(),
            version: (*v).to_string(),
            arch: "amd64".to_string(),
        })
        .collect();
    out.sort();
    out
}

fn accounts(list: &[(&str, u32, bool, Option<i64>)]) -> Vec<LocalAccount> {
    list.iter()
        .map(|(name, uid, can_log_in, last)| LocalAccount {
            name: (*name).to_string(),
            uid: *uid,
            can_log_in: *can_log_in,
            last_login_ms: *last,
        })
        .collect()
}

fn listening(list: &[(&str, &str, u16)]) -> Vec<Listening> {
    list.iter()
        .map(|(p, a, port)| Listening {
            proto: (*p).to_string(),
            address: (*a).to_string(),
            port: *port,
        })
        .collect()
}

fn clock(offset_ms: i64) -> Option<ClockCheck> {
    Some(ClockCheck {
        server: "192.168.10.1".to_string(),
        offset_ms: Some(offset_ms),
        error: String::new(),
    })
}

/// The demo's allow-list for servers: what its mamori server needs, each with why.
pub const DEMO_SERVER_BASELINE: &str = "\
# サーバの許可リスト（2-⑫）。ここにないポート・サービスは不要として停止する。
tcp/443          # mamori の画面と端末エージェントの通信
tcp/22           # 保守用 SSH（管理 VLAN からのみ）
udp/514          # 機器からのログ受信（syslog）
chrony           # 時刻同期
cron
dbus
getty@*.service  # コンソールのログイン
mamori
mamori-agent
ssh
systemd-*.service
unattended-upgrades
";

fn mamori_server(now: i64) -> DemoAgent {
    let inventory = Inventory {
        hostname: "sv-mamori01".to_string(),
        hardware: Hardware {
            vendor: "FUJITSU".to_string(),
            model: "PRIMERGY TX1320 M5".to_string(),
            serial: "MAQD004217".to_string(),
            cpu_model: "Intel(R) Xeon(R) E-2334 CPU @ 3.40GHz".to_string(),
            cpu_threads: 8,
            memory_bytes: 32 * (1 << 30),
        },
        os: Os {
            id: "debian".to_string(),
            name: "Debian GNU/Linux 12 (bookworm)".to_string(),
            version: "12".to_string(),
            kernel: "6.1.0-27-amd64".to_string(),
        },
        disks: vec![
            Disk {
                name: "sda".to_string(),
                model: "MZ7L3960HCJR".to_string(),
                size_bytes: 960_197_124_096,
                removable: false,
                encrypted: true,
            },
            Disk {
                name: "sdb".to_string(),
                model: "MZ7L3960HCJR".to_string(),
                size_bytes: 960_197_124_096,
                removable: false,
                encrypted: true,
            },
        ],
        packages: packages(&[
            ("base-files", "12.4+deb12u8"),
            ("chrony", "4.3-2+deb12u1"),
            ("cryptsetup", "2:2.6.1-4~deb12u2"),
            ("libc6", "2.36-9+deb12u9"),
            ("linux-image-amd64", "6.1.119-1"),
            ("mamori", "0.1.0"),
            ("mamori-agent", "0.1.0"),
            ("openssh-server", "1:9.2p1-2+deb12u3"),
            ("openssl", "3.0.15-1~deb12u1"),
            ("restic", "0.14.0-1+b5"),
            ("systemd", "252.33-1~deb12u1"),
            ("unattended-upgrades", "2.9.1+nmu3"),
        ]),
        enabled_services: vec![
            "chrony.service".to_string(),
            "mamori-agent.service".to_string(),
            "mamori.service".to_string(),
            "ssh.service".to_string(),
            "unattended-upgrades.service".to_string(),
        ],
        running_services: vec![
            "chrony.service".to_string(),
            "cron.service".to_string(),
            "dbus.service".to_string(),
            "getty@tty1.service".to_string(),
            "mamori-agent.service".to_string(),
            "mamori.service".to_string(),
            "ssh.service".to_string(),
            "systemd-journald.service".to_string(),
            "systemd-logind.service".to_string(),
            "systemd-udevd.service".to_string(),
        ],
        listening: listening(&[
            ("tcp", "0.0.0.0", 443),
            ("tcp", "192.168.10.20", 22),
            ("udp", "0.0.0.0", 514),
        ]),
        local_accounts: accounts(&[
            ("root", 0, true, None),
            ("mamori", 998, false, None),
            ("itadmin", 1000, true, Some(now - 6 * DAY)),
        ]),
        usb_devices: vec![UsbDevice {
            port: "1-4".to_string(),
            vendor_id: "0463".to_string(),
            product_id: "ffff".to_string(),
            serial: "4B1K2P0047".to_string(),
            manufacturer: "EATON".to_string(),
            product: "5E 650i (UPS)".to_string(),
            class: "03".to_string(),
        }],
        pending_security_updates: Some(Vec::new()),
        clock: clock(12),
    };
    let asset = Asset {
        name: "SV-mamori-01".to_string(),
        location: "サーバラック（事務室）".to_string(),
        purpose: "医療情報セキュリティ管理（mamori）・ログ収集".to_string(),
        department: "事務部".to_string(),
        os: inventory.os.name.clone(),
        ip: "192.168.10.20".to_string(),
        serial: inventory.hardware.serial.clone(),
        installed_on: Some(crate::clock::to_jst(now - 120 * DAY).date()),
        last_patch_on: Some(crate::clock::to_jst(now - 2 * DAY).date()),
        notes: "端末エージェントの台帳連携で登録".to_string(),
        ..Asset::blank(AssetClass::Server)
    };
    DemoAgent {
        hostname: "sv-mamori01",
        machine_id: "5f3c9a1e0b7d4c28a6e1f09d3b2c4a71",
        groups: "servers",
        note: "mamori サーバ本体",
        enrolled_ms: now - 118 * DAY,
        last_seen_ms: now - 4 * 60_000,
        peer: "192.168.10.20",
        inventory,
        asset: Some(asset),
    }
}

fn pacs_viewer(now: i64) -> DemoAgent {
    let pending = [
        ("libssl1.1", "1.1.1f-1ubuntu2.19", "1.1.1f-1ubuntu2.23"),
        ("openssl", "1.1.1f-1ubuntu2.19", "1.1.1f-1ubuntu2.23"),
        (
            "openssh-server",
            "1:8.2p1-4ubuntu0.9",
            "1:8.2p1-4ubuntu0.11",
        ),
        (
            "openssh-client",
            "1:8.2p1-4ubuntu0.9",
            "1:8.2p1-4ubuntu0.11",
        ),
        ("sudo", "1.8.31-1ubuntu1.4", "1.8.31-1ubuntu1.5"),
        ("libc6", "2.31-0ubuntu9.9", "2.31-0ubuntu9.16"),
        ("linux-image-generic", "5.4.0.150.148", "5.4.0.200.196"),
        (
            "firefox",
            "112.0+build2-0ubuntu0.20.04.1",
            "128.0+build2-0ubuntu0.20.04.1",
        ),
        (
            "libxml2",
            "2.9.10+dfsg-5ubuntu0.20.04.5",
            "2.9.10+dfsg-5ubuntu0.20.04.7",
        ),
        ("curl", "7.68.0-1ubuntu2.18", "7.68.0-1ubuntu2.24"),
        ("libcurl4", "7.68.0-1ubuntu2.18", "7.68.0-1ubuntu2.24"),
        ("git", "1:2.25.1-1ubuntu3.10", "1:2.25.1-1ubuntu3.13"),
        ("vim", "2:8.1.2269-1ubuntu5.14", "2:8.1.2269-1ubuntu5.25"),
        ("tzdata", "2023c-0ubuntu0.20.04.1", "2024a-0ubuntu0.20.04.1"),
    ];
    let mut installed: Vec<(&str, &str)> = pending.iter().map(|(n, v, _)| (*n, *v)).collect();
    installed.extend([
        ("base-files", "11ubuntu5.7"),
        ("dcm4che-viewer", "3.2.1"),
        ("mamori-agent", "0.1.0"),
        ("ubuntu-desktop", "1.450.2"),
        ("vnc4server", "4.1.1+xorg4.3.0-37.3ubuntu2"),
    ]);
    let mut updates: Vec<PendingUpdate> = pending
        .iter()
        .map(|(n, i, a)| PendingUpdate {
            name: (*n).to_string(),
            installed: (*i).to_string(),
            available: (*a).to_string(),
        })
        .collect();
    updates.sort();
    let inventory = Inventory {
        hostname: "pacs-view01".to_string(),
        hardware: Hardware {
            vendor: "Dell Inc.".to_string(),
            model: "OptiPlex 7070".to_string(),
            serial: "8HQK2X2".to_string(),
            cpu_model: "Intel(R) Core(TM) i5-9500 CPU @ 3.00GHz".to_string(),
            cpu_threads: 6,
            memory_bytes: 16 * (1 << 30),
        },
        os: Os {
            id: "ubuntu".to_string(),
            name: "Ubuntu 20.04.6 LTS".to_string(),
            version: "20.04".to_string(),
            kernel: "5.4.0-150-generic".to_string(),
        },
        disks: vec![
            Disk {
                name: "nvme0n1".to_string(),
                model: "PC SN520 NVMe WDC 256GB".to_string(),
                size_bytes: 256_060_514_304,
                removable: false,
                encrypted: false,
            },
            Disk {
                name: "sdb".to_string(),
                model: "Ultra Fit".to_string(),
                size_bytes: 30_752_636_928,
                removable: true,
                encrypted: false,
            },
        ],
        packages: packages(&installed),
        enabled_services: vec![
            "gdm.service".to_string(),
            "mamori-agent.service".to_string(),
            "ssh.service".to_string(),
            "vncserver@1.service".to_string(),
        ],
        running_services: vec![
            "accounts-daemon.service".to_string(),
            "avahi-daemon.service".to_string(),
            "cups-browsed.service".to_string(),
            "cups.service".to_string(),
            "gdm.service".to_string(),
            "mamori-agent.service".to_string(),
            "NetworkManager.service".to_string(),
            "ssh.service".to_string(),
            "systemd-journald.service".to_string(),
            "vncserver@1.service".to_string(),
        ],
        listening: listening(&[
            ("tcp", "0.0.0.0", 22),
            ("tcp", "0.0.0.0", 5901),
            ("tcp", "0.0.0.0", 11112),
        ]),
        local_accounts: accounts(&[
            ("root", 0, false, None),
            ("viewer", 1000, true, Some(now - DAY / 3)),
            ("pacsadmin", 1001, true, Some(now - 210 * DAY)),
        ]),
        usb_devices: vec![
            UsbDevice {
                port: "1-3".to_string(),
                vendor_id: "046d".to_string(),
                product_id: "c077".to_string(),
                serial: String::new(),
                manufacturer: "Logitech".to_string(),
                product: "USB Optical Mouse".to_string(),
                class: "03".to_string(),
            },
            UsbDevice {
                port: "2-1".to_string(),
                vendor_id: "0781".to_string(),
                product_id: "5583".to_string(),
                serial: "4C530001250917105203".to_string(),
                manufacturer: "SanDisk".to_string(),
                product: "Ultra Fit".to_string(),
                class: "08".to_string(),
            },
        ],
        pending_security_updates: Some(updates),
        clock: clock(-2_350),
    };
    DemoAgent {
        hostname: "pacs-view01",
        machine_id: "a0b8e4d2c6f94e1b8d7a3c5e9f201b64",
        groups: "reading-room",
        note: "読影室 画像ビューア（PACS 業者設置）",
        enrolled_ms: now - 45 * DAY,
        last_seen_ms: now - 11 * 60_000,
        peer: "192.168.10.41",
        inventory,
        asset: None,
    }
}

fn signage(now: i64) -> DemoAgent {
    let inventory = Inventory {
        hostname: "signage-01".to_string(),
        hardware: Hardware {
            vendor: "Raspberry Pi Foundation".to_string(),
            model: "Raspberry Pi 4 Model B Rev 1.5".to_string(),
            serial: "10000000b3c4d5e6".to_string(),
            cpu_model: "Cortex-A72".to_string(),
            cpu_threads: 4,
            memory_bytes: 4 * (1 << 30),
        },
        os: Os {
            id: "debian".to_string(),
            name: "Debian GNU/Linux 11 (bullseye)".to_string(),
            version: "11".to_string(),
            kernel: "6.1.21-v8+".to_string(),
        },
        disks: vec![Disk {
            name: "mmcblk0".to_string(),
            model: "SC32G".to_string(),
            size_bytes: 31_914_983_424,
            removable: false,
            encrypted: false,
        }],
        packages: packages(&[
            ("chromium", "120.0.6099.102-rpt1"),
            ("mamori-agent", "0.1.0"),
            ("raspberrypi-kernel", "1:1.20230405-1"),
        ]),
        enabled_services: vec![
            "kiosk.service".to_string(),
            "mamori-agent.service".to_string(),
        ],
        running_services: vec![
            "kiosk.service".to_string(),
            "mamori-agent.service".to_string(),
            "systemd-journald.service".to_string(),
        ],
        listening: Vec::new(),
        local_accounts: accounts(&[
            ("root", 0, false, None),
            ("pi", 1000, true, Some(now - 300 * DAY)),
        ]),
        usb_devices: Vec::new(),
        pending_security_updates: None,
        clock: clock(180),
    };
    DemoAgent {
        hostname: "signage-01",
        machine_id: "7e21c0d94b3a4f6c9e8d2a1b0c3f5e72",
        groups: "",
        note: "待合室 呼出表示モニタ",
        enrolled_ms: now - 90 * DAY,
        last_seen_ms: now - 12 * DAY,
        peer: "192.168.10.52",
        inventory,
        asset: None,
    }
}

/// The demo's agents as of `now`.
pub fn demo_agents(now: i64) -> Vec<DemoAgent> {
    vec![mamori_server(now), pacs_viewer(now), signage(now)]
}

/// What the demo's agents logged in the last days, oldest first, for one host: USB decisions
/// and files written to media. On `pacs-view01` the vendor's engineer plugs a stick (read-only
/// by the policy), a phone (denied), then after an emergency unlock copies 130 image files —
/// the mass copy the detection rule reports. On `sv-mamori01` the backup stick of the ledger
/// (allowed there by an exception) takes the weekly backup.
pub fn demo_agent_events(hostname: &str, now: i64, backup_serial: &str) -> Vec<(i64, EntryBody)> {
    let stick = |serial: &str, product_id: &str, product: &str| Device {
        port: "2-1".to_string(),
        vendor_id: "0781".to_string(),
        product_id: product_id.to_string(),
        serial: serial.to_string(),
        manufacturer: "SanDisk".to_string(),
        product: product.to_string(),
        device_class: "00".to_string(),
        interfaces: vec![Interface {
            class: "08".to_string(),
            subclass: "06".to_string(),
            protocol: "50".to_string(),
            name: String::new(),
        }],
    };
    let decision =
        |at: i64, device: Device, mode: Mode, class: DeviceClass, rule: &str, user: &str| {
            (
                at,
                EntryBody::Device {
                    record: DecisionRecord {
                        device,
                        decision: Decision {
                            mode,
                            class,
                            rule: rule.to_string(),
                        },
                        user: Some(user.to_string()),
                        at_ms: at,
                    },
                },
            )
        };
    let mut out = Vec::new();
    match hostname {
        "pacs-view01" => {
            let t0 = now - 2 * DAY - 5 * 3_600_000;
            let s = stick("4C530001250917105203", "5583", "Ultra Fit");
            out.push(decision(
                t0,
                s.clone(),
                Mode::ReadOnly,
                DeviceClass::MassStorage,
                "class:mass_storage",
                "viewer",
            ));
            let phone = Device {
                port: "2-2".to_string(),
                vendor_id: "04e8".to_string(),
                product_id: "6860".to_string(),
                serial: "R58N12ABCDE".to_string(),
                manufacturer: "SAMSUNG".to_string(),
                product: "Galaxy".to_string(),
                device_class: "00".to_string(),
                interfaces: vec![Interface {
                    class: "ff".to_string(),
                    subclass: "ff".to_string(),
                    protocol: "00".to_string(),
                    name: "MTP".to_string(),
                }],
            };
            out.push(decision(
                t0 + 600_000,
                phone,
                Mode::Deny,
                DeviceClass::Phone,
                "class:phone",
                "viewer",
            ));
            // After an unlock code was read out over the phone.
            let t1 = t0 + 40 * 60_000;
            out.push(decision(
                t1,
                s.clone(),
                Mode::Allow,
                DeviceClass::MassStorage,
                "unlock",
                "viewer",
            ));
            for i in 0..130u64 {
                let at = t1 + 60_000 + i64::try_from(i).unwrap_or(0) * 2_500;
                out.push((
                    at,
                    EntryBody::FileWritten {
                        file: FileWrite {
                            user: "viewer".to_string(),
                            program: "nautilus".to_string(),
                            path: format!("/DICOM/CT_20261{:03}/IM{:05}.dcm", i / 40, i),
                            size: 524_288 + i * 977,
                            sha256: format!("{:064x}", 0x5eed_0000_u64 + i),
                            vendor_id: s.vendor_id.clone(),
                            product_id: s.product_id.clone(),
                            serial: s.serial.clone(),
                        },
                    },
                ));
            }
        }
        "sv-mamori01" => {
            let backup = Device {
                vendor_id: "0951".to_string(),
                product_id: "16a4".to_string(),
                manufacturer: "Kingston".to_string(),
                product: "DataTraveler".to_string(),
                ..stick(backup_serial, "16a4", "DataTraveler")
            };
            for week in (0..4).rev() {
                let at = now - week * 7 * DAY - 2 * DAY - 14 * 3_600_000;
                out.push(decision(
                    at,
                    backup.clone(),
                    Mode::Allow,
                    DeviceClass::MassStorage,
                    &format!("exception:0951:16a4:{backup_serial}"),
                    "itadmin",
                ));
                out.push((
                    at + 900_000,
                    EntryBody::FileWritten {
                        file: FileWrite {
                            user: "itadmin".to_string(),
                            program: "restic".to_string(),
                            path: format!("/mamori-backup/weekly-{week}.tar.zst"),
                            size: 1_843_200_000 + u64::try_from(week).unwrap_or(0) * 10_240_000,
                            sha256: format!(
                                "{:064x}",
                                0xbac0_0000_u64 + u64::try_from(week).unwrap_or(0)
                            ),
                            vendor_id: backup.vendor_id.clone(),
                            product_id: backup.product_id.clone(),
                            serial: backup.serial.clone(),
                        },
                    },
                ));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Summary;

    #[test]
    fn the_demo_agents_tell_the_story() {
        let agents = demo_agents(1_800_000_000_000);
        let s: Vec<Summary> = agents.iter().map(|a| Summary::of(&a.inventory)).collect();
        assert_eq!(s[0].pending_updates, Some(0));
        assert_eq!(s[0].unencrypted_disks, 0);
        assert_eq!(s[1].pending_updates, Some(14));
        assert_eq!((s[1].disks, s[1].unencrypted_disks), (1, 1));
        assert_eq!(s[2].pending_updates, None);
        assert!(agents[0].asset.is_some() && agents[1].asset.is_none());
        assert!(agents[2].last_seen_ms < 1_800_000_000_000 - 7 * DAY);
        // Same input, same output.
        assert_eq!(
            demo_agents(1_800_000_000_000)[1].inventory,
            agents[1].inventory
        );
    }
}
