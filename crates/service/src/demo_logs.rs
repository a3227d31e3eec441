//! Collected logs of the sample clinic: a week from its firewall, file server, domain controller
//! and an old switch, sealed like real ones, with the troubles a real week has (a file server
//! whose clock runs three minutes ahead and that was off for a few hours, a switch that went
//! quiet), and last month's log review.

use crate::Services;
use crate::collect::{Collected, SourceKind};
use crate::demo::SplitMix64;
use crate::error::ServiceResult;
use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use mamori_storage::sources::{ReviewRow, create_token_source, insert_review};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

struct Sender {
    source: &'static str,
    kind: SourceKind,
    peer: &'static str,
    host: &'static str,
    /// Events per hour in office hours; a quarter of that at night.
    per_hour: u64,
    /// How far the sender's clock is ahead (ms).
    clock_ms: i64,
    /// Hours ago it went quiet (0: still sending).
    quiet_for_h: i64,
    /// (from, to) hours ago when it sent nothing.
    off: Option<(i64, i64)>,
}

const SENDERS: [Sender; 4] = [
    Sender {
        source: "syslog/192.168.1.1",
        kind: SourceKind::Syslog,
        peer: "192.168.1.1",
        host: "utm01",
        per_hour: 24,
        clock_ms: 400,
        quiet_for_h: 0,
        off: None,
    },
    Sender {
        source: "syslog/192.168.1.20",
        kind: SourceKind::Syslog,
        peer: "192.168.1.20",
        host: "nas01",
        per_hour: 12,
        clock_ms: 185_000,
        quiet_for_h: 0,
        off: Some((77, 72)),
    },
    Sender {
        source: "winlogbeat-dc01",
        kind: SourceKind::Json,
        peer: "192.168.1.10",
        host: "dc01",
        per_hour: 20,
        clock_ms: 0,
        quiet_for_h: 0,
        off: None,
    },
    Sender {
        source: "syslog/192.168.1.30",
        kind: SourceKind::Syslog,
        peer: "192.168.1.30",
        host: "sw-2f",
        per_hour: 3,
        clock_ms: -2_000,
        quiet_for_h: 40,
        off: None,
    },
];

const USERS: [&str; 8] = [
    "dr.yamada",
    "nurse01",
    "nurse02",
    "nurse03",
    "nurse05",
    "jimu01",
    "jimu02",
    "rad01",
];

fn event(s: &Sender, rng: &mut SplitMix64, received: i64) -> LogEvent {
    let user = USERS
        .get(rng.below(USERS.len() as u64) as usize)
        .copied()
        .unwrap_or("nurse01");
    let roll = rng.below(100);
    let (action, outcome, severity, message) = match (s.host, roll) {
        ("dc01", 0..=3) => (
            Action::LogonFailed,
            Outcome::Failure,
            Severity::Warning,
            format!("An account failed to log on. Account Name: {user}"),
        ),
        ("dc01", 4) => (
            Action::SpecialPrivilegesAssigned,
            Outcome::Success,
            Severity::Notice,
            "Special privileges assigned to new logon. Account Name: administrator".to_string(),
        ),
        ("dc01", 5..=49) => (
            Action::Logon,
            Outcome::Success,
            Severity::Informational,
            format!("An account was successfully logged on. Account Name: {user}"),
        ),
        ("dc01", _) => (
            Action::Logoff,
            Outcome::Success,
            Severity::Informational,
            format!("An account was logged off. Account Name: {user}"),
        ),
        ("utm01", 0..=79) => (
            Action::Other("traffic_denied".into()),
            Outcome::Failure,
            Severity::Notice,
            format!(
                "deny src=203.0.113.{} dst=192.168.1.1 dport={} proto=tcp",
                rng.below(250) + 1,
                [22, 23, 445, 3389]
                    .get(rng.below(4) as usize)
                    .unwrap_or(&22)
            ),
        ),
        ("utm01", _) => (
            Action::Other("vpn_logon".into()),
            Outcome::Success,
            Severity::Informational,
            "SSL-VPN tunnel up: user=vendor-ehr (保守)".to_string(),
        ),
        ("nas01", 0..=89) => (
            Action::Other("file_access".into()),
            Outcome::Success,
            Severity::Informational,
            format!("smbd: {user} opened \\\\nas01\\shared\\診療部\\紹介状"),
        ),
        ("nas01", _) => (
            Action::LogonFailed,
            Outcome::Failure,
            Severity::Warning,
            format!(
                "sshd: Failed password for {user} from 192.168.1.{}",
                rng.below(200) + 20
            ),
        ),
        _ => (
            Action::Other("link".into()),
            Outcome::Unknown,
            Severity::Notice,
            format!(
                "%LINK-3-UPDOWN: Interface GigabitEthernet0/{}, changed state to up",
                rng.below(24)
            ),
        ),
    };
    let actor = matches!(s.host, "dc01" | "nas01").then(|| user.to_string());
    LogEvent {
        time_ms: Some(received - 300 + s.clock_ms),
        received_ms: received,
        source_host: s.host.to_string(),
        actor,
        action,
        object: None,
        outcome,
        severity,
        raw: format!("<134>1 {} {} - - - {message}", received, s.host),
        message,
        fields: vec![("peer".into(), s.peer.to_string())],
    }
}

/// The domain controller's incidents of the week: a password guessed at until the account
/// locked, the security log cleared, and a clerk made a domain administrator.
fn incidents(hours_ago: i64, hour_start: i64, out: &mut Vec<LogEvent>) {
    let dc =
        |at: i64, actor: &str, action: Action, outcome, object: &str, message: &str| LogEvent {
            time_ms: Some(at),
            received_ms: at + 300,
            source_host: "dc01".into(),
            actor: Some(actor.to_string()),
            action,
            object: Some(object.to_string()).filter(|o| !o.is_empty()),
            outcome,
            severity: Severity::Warning,
            message: message.to_string(),
            fields: vec![("peer".into(), "192.168.1.10".into())],
            raw: String::new(),
        };
    match hours_ago {
        50 => {
            for i in 0..6 {
                out.push(dc(
                    hour_start + 600_000 + i * 20_000,
                    "nurse03",
                    Action::LogonFailed,
                    Outcome::Failure,
                    "",
                    "An account failed to log on. Account Name: nurse03",
                ));
            }
            out.push(dc(
                hour_start + 600_000 + 130_000,
                "nurse03",
                Action::AccountLockedOut,
                Outcome::Success,
                "nurse03",
                "A user account was locked out. Account Name: nurse03",
            ));
        }
        75 => out.push(dc(
            hour_start + 1_800_000,
            "administrator",
            Action::AuditLogCleared,
            Outcome::Success,
            "",
            "The audit log was cleared. Account Name: administrator",
        )),
        26 => {
            let mut e = dc(
                hour_start + 900_000,
                "administrator",
                Action::GroupMemberAdded,
                Outcome::Success,
                "jimu02",
                "A member was added to a security-enabled global group. Group: Domain Admins",
            );
            e.fields
                .push(("TargetUserName".into(), "Domain Admins".into()));
            e.fields.push((
                "MemberName".into(),
                "CN=jimu02,OU=Staff,DC=clinic,DC=local".into(),
            ));
            out.push(e);
        }
        _ => {}
    }
}

impl Services {
    /// Seals a week of the sample clinic's collected logs and records last month's review
    /// (counting what was collected in its period, so call it after the other demo logs).
    /// Needs the sealed event log (the demo server holds it).
    pub async fn seed_demo_logs(&self, seed: u64) -> ServiceResult<usize> {
        let now = self.now_ms();
        let mut rng = SplitMix64::new(seed ^ 0x6c6f_6773);
        let mut stored = 0;
        {
            // The forwarder is registered with a token nobody knows: the demo shows its events,
            // and an administrator can issue a real token from its page.
            let mut w = self.store.write().await?;
            let token = crate::auth::token_hash(&crate::auth::random_token());
            let _ = create_token_source(
                &mut w,
                "winlogbeat-dc01",
                "ドメインコントローラ（Winlogbeat）",
                &token,
                now - 8 * DAY_MS,
                "admin",
            )
            .await;
            w.commit().await?;
        }
        for hours_ago in (0..7 * 24).rev() {
            let hour_start = now - now.rem_euclid(HOUR_MS) - hours_ago * HOUR_MS;
            let jst_hour = (hour_start / HOUR_MS + 9).rem_euclid(24);
            let mut batch = Vec::new();
            for s in &SENDERS {
                if s.quiet_for_h > 0 && hours_ago < s.quiet_for_h {
                    continue;
                }
                if s.off
                    .is_some_and(|(from, to)| hours_ago <= from && hours_ago > to)
                {
                    continue;
                }
                let busy = (8..19).contains(&jst_hour);
                let n = if busy { s.per_hour } else { s.per_hour / 4 + 1 };
                let mut c =
                    Collected::new(s.source.to_string(), s.kind, s.peer.to_string(), hour_start);
                for _ in 0..n {
                    let at = (hour_start + rng.below(HOUR_MS as u64) as i64).min(now - 1);
                    c.events.push(event(s, &mut rng, at));
                    c.received_ms = c.received_ms.max(at);
                }
                if s.host == "dc01" {
                    incidents(hours_ago, hour_start, &mut c.events);
                }
                if s.host == "utm01" && hours_ago == 30 {
                    c.reject(
                        "LOG0003",
                        "12件目: 上限（65536 バイト）を超える syslog メッセージを読み飛ばしました"
                            .to_string(),
                    );
                }
                batch.push(c);
            }
            let refs: Vec<&Collected> = batch.iter().collect();
            self.store_collected(&refs).await?;
            stored += batch.iter().map(|c| c.events.len()).sum::<usize>();
        }
        // Last month's review, by the security officer.
        let month_end = now - now.rem_euclid(DAY_MS) - 15 * DAY_MS;
        let reviewed = self
            .store
            .count_events(&mamori_storage::events::EventQuery {
                from_ms: Some(month_end - 30 * DAY_MS),
                to_ms: Some(month_end),
                ..Default::default()
            })
            .await?;
        let mut w = self.store.write().await?;
        insert_review(
            &mut w,
            &ReviewRow {
                id: 0,
                from_ms: month_end - 30 * DAY_MS,
                to_ms: month_end,
                reviewed_at: month_end + 2 * DAY_MS + 10 * HOUR_MS,
                reviewer: "安全管理責任者（事務長）".into(),
                events: reviewed,
                notes: "異常なし。UTM の拒否ログは外部からの走査で、設定どおり遮断。夜間のログイン失敗 3 件は本人の入力誤りと確認。"
                    .into(),
            },
        )
        .await?;
        w.commit().await?;
        Ok(stored)
    }
}
