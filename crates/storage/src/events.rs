//! The search index of collected log events (`log_events`): one row per sealed event record,
//! with what searches filter on. The event itself (every field, the raw text) is in the sealed
//! event log; `seal_index` points there.

use crate::{Backend, Result, Store, WriteTx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One indexed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Record index in the sealed event log.
    pub seal_index: i64,
    /// The source's time (Unix ms), when it gave one.
    pub at_ms: Option<i64>,
    pub received_ms: i64,
    /// `at_ms` when plausible, else `received_ms`: what time ranges and ordering use.
    pub sort_ms: i64,
    /// Empty, or why the source's time was not used: `missing`, `future`, `past`.
    pub time_flag: String,
    /// Where it came from: the imported file or the listener.
    pub source: String,
    pub host: String,
    pub actor: Option<String>,
    /// `domain::event::Action` code.
    pub action: String,
    pub object: Option<String>,
    pub outcome: String,
    /// Syslog severity number, 0 (emergency) … 7 (debug).
    pub severity: i64,
    pub message: String,
    /// The values of every other field (the event's data beyond the message), for the word
    /// search; not shown.
    pub words: String,
}

/// The columns of `log_events`, in the order a batch gives them.
pub const COLUMNS: &str = "seal_index, at, received_at, sort_at, time_flag, source, host, actor, \
                       action, object, outcome, severity, message, words";
const WIDTH: usize = 14;

fn decode(r: &AnyRow) -> Result<EventRow> {
    Ok(EventRow {
        seal_index: r.try_get(0)?,
        at_ms: r.try_get(1)?,
        received_ms: r.try_get(2)?,
        sort_ms: r.try_get(3)?,
        time_flag: r.try_get(4)?,
        source: r.try_get(5)?,
        host: r.try_get(6)?,
        actor: r.try_get(7)?,
        action: r.try_get(8)?,
        object: r.try_get(9)?,
        outcome: r.try_get(10)?,
        severity: r.try_get(11)?,
        message: r.try_get(12)?,
        words: r.try_get(13)?,
    })
}

/// Rows one INSERT statement carries: 14 binds a row stays under SQLite's 32,766 binds a
/// statement (and PostgreSQL's 65,535).
pub const ROWS_PER_STATEMENT: usize = 2_000;

/// The INSERT of `n` rows of [`COLUMNS`]. SQLite gets anonymous `?` binds: it looks each
/// named or numbered bind up in a list as it parses, which at 28,000 binds costs seconds.
fn insert_sql(backend: Backend, n: usize) -> String {
    let mut sql = String::with_capacity(40 + n * WIDTH * 7);
    sql.push_str("INSERT INTO log_events (");
    sql.push_str(COLUMNS);
    sql.push_str(") VALUES ");
    for r in 0..n {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..WIDTH {
            if c > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * WIDTH + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Indexes a batch: multi-row INSERTs of up to [`ROWS_PER_STATEMENT`] rows, each statement
/// prepared once per size and kept, so a batch of 10,000 costs five statement runs. The values
/// go in as binds: no text the database has to parse again (a JSON parameter unpacked by
/// `json_each` spent most of its time in SQLite's JSON functions). A row already indexed is
/// an error: the caller indexes each sealed record once.
pub async fn insert_events(tx: &mut WriteTx, rows: &[EventRow]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = insert_sql(tx.backend(), chunk.len());
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.seal_index)
                .bind(r.at_ms)
                .bind(r.received_ms)
                .bind(r.sort_ms)
                .bind(r.time_flag.as_str())
                .bind(r.source.as_str())
                .bind(r.host.as_str())
                .bind(r.actor.as_deref())
                .bind(r.action.as_str())
                .bind(r.object.as_deref())
                .bind(r.outcome.as_str())
                .bind(r.severity)
                .bind(r.message.as_str())
                .bind(r.words.as_str());
        }
        q.execute(&mut ***tx).await?;
    }
    Ok(())
}

/// What a search asks for. Empty strings and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub actor: String,
    /// The object acted on: a patient id, a file, a device, an account.
    pub object: String,
    pub host: String,
    pub action: String,
    /// The source it came from (`syslog/192.0.2.1`, a forwarder, a file).
    pub source: String,
    /// Half-open range of `sort_at`, Unix ms.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Words the message or the event's other fields must contain (case as typed).
    pub text: String,
    pub limit: i64,
    pub offset: i64,
}

/// The WHERE clause of `q` and its binds, in order.
fn filter(q: &EventQuery) -> (String, Vec<FilterValue>) {
    let mut parts = Vec::new();
    let mut binds = Vec::new();
    let mut eq = |column: &str, value: &str, parts: &mut Vec<String>| {
        if !value.is_empty() {
            binds.push(FilterValue::Text(value.to_string()));
            parts.push(format!("{column} = ${}", binds.len()));
        }
    };
    eq("actor", &q.actor, &mut parts);
    eq("object", &q.object, &mut parts);
    eq("host", &q.host, &mut parts);
    eq("action", &q.action, &mut parts);
    eq("source", &q.source, &mut parts);
    if let Some(from) = q.from_ms {
        binds.push(FilterValue::Int(from));
        parts.push(format!("sort_at >= ${}", binds.len()));
    }
    if let Some(to) = q.to_ms {
        binds.push(FilterValue::Int(to));
        parts.push(format!("sort_at < ${}", binds.len()));
    }
    for word in q.text.split_whitespace().take(8) {
        // LIKE with the wildcards of the typed word escaped.
        let escaped = word
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        binds.push(FilterValue::Text(format!("%{escaped}%")));
        binds.push(FilterValue::Text(format!("%{escaped}%")));
        parts.push(format!(
            "(message LIKE ${} ESCAPE '\\' OR words LIKE ${} ESCAPE '\\')",
            binds.len() - 1,
            binds.len()
        ));
    }
    if parts.is_empty() {
        (String::new(), binds)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), binds)
    }
}

enum FilterValue {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// `query` with the values of a [`filter`] clause bound, in order.
fn bind_filter(mut query: AnyQuery<'_>, binds: Vec<FilterValue>) -> AnyQuery<'_> {
    for b in binds {
        query = match b {
            FilterValue::Text(s) => query.bind(s),
            FilterValue::Int(i) => query.bind(i),
        };
    }
    query
}

impl Store {
    /// Events matching `q`, newest first, `q.limit` from `q.offset`.
    /// The indexed events of these sealed record numbers (at most 500), oldest first.
    pub async fn events_by_index(&self, indexes: &[i64]) -> Result<Vec<EventRow>> {
        let indexes = indexes.get(..indexes.len().min(500)).unwrap_or_default();
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let list = indexes
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT {COLUMNS} FROM log_events WHERE seal_index IN ({list}) ORDER BY seal_index"
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(decode).collect()
    }

    pub async fn search_events(&self, q: &EventQuery) -> Result<Vec<EventRow>> {
        let (clause, binds) = filter(q);
        let n = binds.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM log_events{clause} ORDER BY sort_at DESC, seal_index DESC \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let query = bind_filter(sqlx::query(&sql), binds);
        let rows = query
            .bind(q.limit.clamp(1, 10_000))
            .bind(q.offset.max(0))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// How many events match `q` (its limit and offset aside).
    pub async fn count_events(&self, q: &EventQuery) -> Result<i64> {
        let (clause, binds) = filter(q);
        let sql = format!("SELECT COUNT(*) FROM log_events{clause}");
        let query = bind_filter(sqlx::query(&sql), binds);
        Ok(query.fetch_one(self.pool()).await?.try_get(0)?)
    }

    /// Events matching `q` counted per outcome in buckets of `bucket_ms` from `from_ms` (which
    /// also bounds them below): (bucket number from 0, outcome, count). For charts: counted by
    /// the database, however many events there are.
    pub async fn count_events_by_bucket(
        &self,
        q: &EventQuery,
        from_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        let q = EventQuery {
            from_ms: Some(q.from_ms.map_or(from_ms, |f| f.max(from_ms))),
            ..q.clone()
        };
        let (clause, binds) = filter(&q);
        let n = binds.len();
        let sql = format!(
            "SELECT (sort_at - ${a}) / ${b} AS bucket, outcome, COUNT(*) FROM log_events{clause} \
             GROUP BY (sort_at - ${a}) / ${b}, outcome",
            a = n + 1,
            b = n + 2
        );
        let query = bind_filter(sqlx::query(&sql), binds);
        let rows = query
            .bind(from_ms)
            .bind(bucket_ms.max(1))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// One past the highest sealed record indexed (0 when none): where catching up starts.
    pub async fn indexed_through(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seal_index) + 1, 0) FROM log_events")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Events per source: (source, count, newest receive time).
    pub async fn event_sources(&self) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT source, COUNT(*), MAX(received_at) FROM log_events GROUP BY source ORDER BY source",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}
