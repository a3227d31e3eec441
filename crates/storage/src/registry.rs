//! One storage path for every ledger registry, driven by the registry's field list: a field's
//! kind decides its column type (text, nullable date text, 0/1, integer, id) and how its
//! canonical value is bound and read back.

use crate::{Result, Store, StoreError, Tx};
use mamori_domain::registry::{Field, FieldKind, Record, Values};
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>>;

fn table<R: Record>() -> &'static str {
    R::KIND.plural()
}

fn columns<R: Record>() -> String {
    R::FIELDS
        .iter()
        .map(|f| f.column)
        .collect::<Vec<_>>()
        .join(", ")
}

fn order_by<R: Record>() -> String {
    R::KEY
        .iter()
        .filter_map(|k| R::FIELDS.iter().find(|f| f.key == *k))
        .map(|f| f.column)
        .chain(["id"])
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds one canonical value as its column's type.
fn bind<'q>(q: Query<'q>, f: &Field, v: &str) -> Query<'q> {
    let v = v.trim();
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match f.kind {
        FieldKind::Date => q.bind(opt(v)),
        FieldKind::Month => q.bind(opt(v).map(|m| format!("{m}-01"))),
        FieldKind::Flag => q.bind(i64::from(v == "1")),
        FieldKind::MaybeFlag => q.bind(match v {
            "1" => Some(1i64),
            "0" => Some(0i64),
            _ => None,
        }),
        FieldKind::Int(..) | FieldKind::Ref(_) => q.bind(v.parse::<i64>().ok()),
        _ => q.bind(v.to_string()),
    }
}

fn bind_all<'q, R: Record>(mut q: Query<'q>, r: &R) -> Query<'q> {
    for (f, v) in R::FIELDS.iter().zip(r.values()) {
        q = bind(q, f, &v);
    }
    q
}

/// Reads column `i` as canonical text.
fn read(r: &AnyRow, i: usize, f: &Field) -> Result<String> {
    Ok(match f.kind {
        FieldKind::Date => r.try_get::<Option<String>, _>(i)?.unwrap_or_default(),
        FieldKind::Month => r
            .try_get::<Option<String>, _>(i)?
            .map(|d| d.chars().take(7).collect())
            .unwrap_or_default(),
        FieldKind::Flag => if crate::get_flag(r, i)? { "1" } else { "0" }.to_string(),
        FieldKind::MaybeFlag => match crate::get_opt_flag(r, i)? {
            Some(true) => "1".into(),
            Some(false) => "0".into(),
            None => String::new(),
        },
        FieldKind::Int(..) | FieldKind::Ref(_) => r
            .try_get::<Option<i64>, _>(i)?
            .map(|v| v.to_string())
            .unwrap_or_default(),
        _ => r.try_get::<String, _>(i)?,
    })
}

fn decode<R: Record>(r: &AnyRow) -> Result<R> {
    let id: i64 = r.try_get(0)?;
    let values = R::FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| read(r, i + 1, f))
        .collect::<Result<Vec<_>>>()?;
    let mut rec = R::from_values(&Values::new(R::FIELDS, &values));
    rec.set_id(id);
    Ok(rec)
}

fn unique_to_conflict(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        e => StoreError::Db(e),
    }
}

/// Inserts a record; its id is ignored and the new one returned. A taken key is `Conflict`.
pub async fn insert<R: Record>(tx: &mut Tx, r: &R) -> Result<i64> {
    let params = (1..=R::FIELDS.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({params}) RETURNING id",
        table::<R>(),
        columns::<R>()
    );
    let row = bind_all(sqlx::query(&sql), r)
        .fetch_one(&mut **tx)
        .await
        .map_err(unique_to_conflict)?;
    Ok(row.try_get(0)?)
}

/// Replaces every field of an existing record. False when there is no record with its id.
pub async fn update<R: Record>(tx: &mut Tx, r: &R) -> Result<bool> {
    let sets = R::FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} = ${}", f.column, i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE {} SET {sets} WHERE id = ${}",
        table::<R>(),
        R::FIELDS.len() + 1
    );
    let done = bind_all(sqlx::query(&sql), r)
        .bind(r.id())
        .execute(&mut **tx)
        .await
        .map_err(unique_to_conflict)?;
    Ok(done.rows_affected() == 1)
}

/// One record read inside `tx`, locked on PostgreSQL until the transaction ends (SQLite's
/// writer lock already serialises writers), for a change decided on what it holds now.
pub async fn record_for_update<R: Record>(
    tx: &mut Tx,
    backend: crate::Backend,
    id: i64,
) -> Result<Option<R>> {
    let lock = match backend {
        crate::Backend::Postgres => " FOR UPDATE",
        crate::Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT id, {} FROM {} WHERE id = $1{lock}",
        columns::<R>(),
        table::<R>()
    );
    let r = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    r.as_ref().map(decode::<R>).transpose()
}

/// Filters of a registry list. Empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Free text over the registry's search fields (case-insensitive for ASCII).
    pub q: String,
    /// (field key, canonical value) pairs that must match exactly.
    pub eq: Vec<(String, String)>,
}

impl Store {
    /// Every record of a registry, in key order.
    pub async fn records<R: Record>(&self) -> Result<Vec<R>> {
        let sql = format!(
            "SELECT id, {} FROM {} ORDER BY {}",
            columns::<R>(),
            table::<R>(),
            order_by::<R>()
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(decode::<R>).collect()
    }

    /// One record by id.
    pub async fn record<R: Record>(&self, id: i64) -> Result<Option<R>> {
        let sql = format!(
            "SELECT id, {} FROM {} WHERE id = $1",
            columns::<R>(),
            table::<R>()
        );
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(decode::<R>).transpose()
    }

    /// Number of records of a registry.
    pub async fn record_count<R: Record>(&self) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {}", table::<R>());
        Ok(sqlx::query(&sql).fetch_one(self.pool()).await?.try_get(0)?)
    }

    /// A page of records matching `f`, in key order, and the number of matches.
    pub async fn record_page<R: Record>(
        &self,
        f: &Filter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<R>, i64)> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<(Field, String)> = Vec::new();
        let q = f.q.trim();
        let searched: Vec<&Field> = R::FIELDS.iter().filter(|f| f.search).collect();
        if !q.is_empty() && !searched.is_empty() {
            let like = format!(
                "%{}%",
                q.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            args.push((Field::text("q", 0), like));
            let n = args.len();
            // SQLite's LIKE already ignores ASCII case (the only case its LOWER folds), and
            // calling LOWER on every searched column of every row made a search of 50,000
            // devices about three times slower. PostgreSQL's LIKE is case-sensitive.
            let column = |c: &str| match self.backend() {
                crate::Backend::Sqlite => c.to_string(),
                crate::Backend::Postgres => format!("LOWER({c})"),
            };
            let any = searched
                .iter()
                .map(|f| format!("{} LIKE ${n} ESCAPE '\\'", column(f.column)))
                .collect::<Vec<_>>()
                .join(" OR ");
            conds.push(format!("({any})"));
        }
        for (key, value) in &f.eq {
            let Some(field) = R::FIELDS.iter().find(|x| x.key == key) else {
                continue;
            };
            if value.trim().is_empty() {
                continue;
            }
            args.push((*field, value.clone()));
            conds.push(format!("{} = ${}", field.column, args.len()));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM {}{filter}", table::<R>());
        let mut cq = sqlx::query(&count_sql);
        for (field, v) in &args {
            cq = bind(cq, field, v);
        }
        let total: i64 = cq.fetch_one(self.pool()).await?.try_get(0)?;
        let sql = format!(
            "SELECT id, {} FROM {}{filter} ORDER BY {} LIMIT ${} OFFSET ${}",
            columns::<R>(),
            table::<R>(),
            order_by::<R>(),
            args.len() + 1,
            args.len() + 2
        );
        let mut pq = sqlx::query(&sql);
        for (field, v) in &args {
            pq = bind(pq, field, v);
        }
        let rows = pq.bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let list = rows.iter().map(decode::<R>).collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    }

    /// Number of records per canonical value of field `key` (for charts and filter counts).
    pub async fn record_counts<R: Record>(&self, key: &str) -> Result<Vec<(String, i64)>> {
        let Some(field) = R::FIELDS.iter().find(|f| f.key == key) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {0}, COUNT(*) FROM {1} GROUP BY {0} ORDER BY {0}",
            field.column,
            table::<R>()
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| Ok((read(r, 0, field)?, r.try_get(1)?)))
            .collect()
    }

    /// Distinct non-empty values of a text field, for the filter list.
    pub async fn record_facet<R: Record>(&self, key: &str) -> Result<Vec<String>> {
        let Some(field) = R::FIELDS
            .iter()
            .find(|f| f.key == key && matches!(f.kind, FieldKind::Text(_)))
        else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT DISTINCT {0} FROM {1} WHERE {0} <> '' ORDER BY {0}",
            field.column,
            table::<R>()
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }
}
