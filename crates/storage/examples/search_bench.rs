//! Search over the collected-log index at hospital scale: fills `log_events` of a fresh
//! embedded store with synthetic EHR access events (a year, 50,000 patients, 300 users, 200
//! terminals), then times the questions people ask. The same queries are timed at a tenth of the
//! size first, as the baseline of the same run. Prints a Markdown table.
//!
//!   cargo run --release -p mamori-storage --example search_bench [EVENTS]   (default 10,000,000)

use mamori_storage::Store;
use mamori_storage::events::EventQuery;
use std::time::Instant;

const DAY_MS: i64 = 86_400_000;
/// 2026-12-01T00:00:00Z: "now" of the synthetic year.
const NOW_MS: i64 = 1_796_083_200_000;
const CHUNK: i64 = 500_000;

async fn fill(store: &Store, from: i64, to: i64, total: i64) -> anyhow::Result<()> {
    let step = 365 * DAY_MS / total.max(1);
    let t0 = NOW_MS - 365 * DAY_MS;
    let mut start = from;
    while start < to {
        let end = (start + CHUNK).min(to);
        let sql = format!(
            "INSERT INTO log_events (seal_index, at, received_at, sort_at, time_flag, source, host, \
             actor, action, object, outcome, severity, message, words) \
             WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
             SELECT i, {t0} + i * {step}, {t0} + i * {step} + 400, {t0} + i * {step}, '', 'ehr-access', \
             'PC-' || ((i * 7) % 200), 'u' || printf('%04d', (i * 13) % 300), \
             CASE WHEN i % 10 < 7 THEN 'record_viewed' WHEN i % 10 = 7 THEN 'record_changed' \
                  WHEN i % 10 = 8 THEN 'logon' ELSE 'record_printed' END, \
             'P-' || printf('%06d', (i * 7919) % 50000), \
             CASE WHEN i % 97 = 0 THEN 'failure' ELSE 'success' END, 6, \
             'カルテ参照 患者 P-' || printf('%06d', (i * 7919) % 50000) || ' 端末 PC-' || ((i * 7) % 200), \
             '192.168.' || ((i * 3) % 250) || '.' || ((i * 11) % 250) || ' 外来' \
             FROM n",
            last = end - 1,
        );
        sqlx::query(&sql).execute(store.pool()).await?;
        eprint!("\r  {end} / {total} events indexed");
        start = end;
    }
    eprintln!();
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The page of 50 and the total, as the search page asks: median of 5, in seconds.
async fn time_query(store: &Store, q: &EventQuery) -> anyhow::Result<(f64, i64)> {
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let rows = store.search_events(q).await?;
        total = store.count_events(q).await?;
        std::hint::black_box(rows);
        times.push(t.elapsed().as_secs_f64());
    }
    Ok((median(times), total))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open_data_dir(dir.path()).await?;
    let month = Some(NOW_MS - 30 * DAY_MS);
    let queries: Vec<(&str, EventQuery)> = vec![
        (
            "患者 P-001234 の記録を開いた人（直近30日）",
            EventQuery {
                object: "P-001234".into(),
                from_ms: month,
                limit: 50,
                ..EventQuery::default()
            },
        ),
        (
            "利用者 u0042 の操作（直近30日）",
            EventQuery {
                actor: "u0042".into(),
                from_ms: month,
                limit: 50,
                ..EventQuery::default()
            },
        ),
        (
            "端末 PC-17 の操作（直近30日）",
            EventQuery {
                host: "PC-17".into(),
                from_ms: month,
                limit: 50,
                ..EventQuery::default()
            },
        ),
        (
            "全件の新しい順（1ページ目と総数）",
            EventQuery {
                limit: 50,
                ..EventQuery::default()
            },
        ),
        (
            "本文の語 \"P-001234\"（全文、直近30日）",
            EventQuery {
                text: "P-001234".into(),
                from_ms: month,
                limit: 50,
                ..EventQuery::default()
            },
        ),
    ];
    let baseline = n / 10;
    eprintln!("filling the baseline ({baseline} events)…");
    let t = Instant::now();
    fill(&store, 0, baseline, n).await?;
    let fill_base = t.elapsed().as_secs_f64();
    sqlx::query("ANALYZE").execute(store.pool()).await?;
    let mut base_times = Vec::new();
    for (_, q) in &queries {
        base_times.push(time_query(&store, q).await?);
    }
    eprintln!("filling up to {n} events…");
    let t = Instant::now();
    fill(&store, baseline, n, n).await?;
    let fill_rest = t.elapsed().as_secs_f64();
    sqlx::query("ANALYZE").execute(store.pool()).await?;
    println!(
        "# collected-log search — {n} events in the index (SQLite, embedded), {} cores",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!();
    println!(
        "Filled at {:.0} events/s (bulk SQL, baseline part) and {:.0} events/s (rest).",
        baseline as f64 / fill_base,
        (n - baseline) as f64 / fill_rest
    );
    println!();
    println!("| question | baseline: {baseline} events, s | {n} events, s | matches | target |");
    println!("|---|---|---|---|---|");
    for ((label, q), (base, _)) in queries.iter().zip(&base_times) {
        let (t, total) = time_query(&store, q).await?;
        let target = if q.object.is_empty() {
            "—".to_string()
        } else if t <= 1.0 {
            "≤ 1 s: met".into()
        } else {
            "≤ 1 s: MISSED".into()
        };
        println!("| {label} | {base:.4} | {t:.4} | {total} | {target} |");
    }
    store.close().await;
    Ok(())
}
