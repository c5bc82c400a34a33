//! SQLite: the catalog (`pragma_table_info`), batch reads in key order and conditional updates.
//!
//! SQLite stores each value with its own type whatever the column says, so a value is read
//! with `typeof()` and written back as the same type: text stays text, a blob stays a blob.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Arguments, Row, SqlitePool};

use super::connection::{
    after_clause, db_error, quote, ColumnRef, Fetched, KeyColumn, KeyKind, KeyValue, Partition,
    TableInfo, Update,
};
use crate::error::{Error, Result};

pub(crate) async fn connect(url: &str, n: u32) -> sqlx::Result<SqlitePool> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(60));
    SqlitePoolOptions::new()
        .max_connections(n)
        .connect_with(opts)
        .await
}

fn split_table(table: &str) -> (&str, &str) {
    table.split_once('.').unwrap_or(("main", table))
}

pub(crate) async fn describe(pool: &SqlitePool, col: &ColumnRef) -> Result<TableInfo> {
    let (schema, table) = split_table(&col.table);
    let rows = sqlx::query("SELECT name, type, pk FROM pragma_table_info(?, ?) ORDER BY cid")
        .bind(table)
        .bind(schema)
        .fetch_all(pool)
        .await
        .map_err(|e| db_error(format!("cannot read the columns of {}", col.table), e))?;
    if rows.is_empty() {
        return Err(Error::Argument(format!(
            "table {} does not exist in this database: check the name (TABLE.COLUMN)",
            col.table
        )));
    }
    let mut binary = None;
    let mut key: Vec<(i64, KeyColumn)> = Vec::new();
    let mut names = Vec::new();
    for r in &rows {
        let name: String = r.get(0);
        let ty: String = r
            .get::<Option<String>, _>(1)
            .unwrap_or_default()
            .to_uppercase();
        let pk: i64 = r.get(2);
        if name == col.column {
            binary = Some(ty.contains("BLOB") || ty.contains("BINARY"));
        }
        if pk > 0 {
            let kind = if ty.contains("INT") {
                KeyKind::Int
            } else if ty.contains("BLOB") {
                KeyKind::Bytes
            } else {
                KeyKind::Text
            };
            key.push((
                pk,
                KeyColumn {
                    name: name.clone(),
                    kind,
                    sql_type: ty,
                },
            ));
        }
        names.push(name);
    }
    let binary = binary.ok_or_else(|| {
        Error::Argument(format!(
            "table {} has no column {} (its columns: {})",
            col.table,
            col.column,
            names.join(", ")
        ))
    })?;
    key.sort_by_key(|(i, _)| *i);
    let key: Vec<KeyColumn> = key.into_iter().map(|(_, k)| k).collect();
    let shard_expr = match key.first() {
        Some(k) if k.kind == KeyKind::Int => Some(quote(&k.name, '"')),
        Some(_) => {
            // A rowid table can be split by rowid; a WITHOUT ROWID table cannot.
            let probe = format!("SELECT rowid FROM {} LIMIT 0", quote(&col.table, '"'));
            sqlx::query(&probe)
                .fetch_all(pool)
                .await
                .ok()
                .map(|_| "rowid".to_string())
        }
        None => None,
    };
    Ok(TableInfo {
        column: col.clone(),
        key,
        binary,
        shard_expr,
    })
}

/// The columns of `table` that can hold encrypted values (declared text, character, CLOB or
/// BLOB types, or none), outside the primary key.
pub(crate) async fn text_columns(pool: &SqlitePool, table: &str) -> Result<Vec<String>> {
    let (schema, name) = split_table(table);
    let rows = sqlx::query("SELECT name, type, pk FROM pragma_table_info(?, ?) ORDER BY cid")
        .bind(name)
        .bind(schema)
        .fetch_all(pool)
        .await
        .map_err(|e| db_error(format!("cannot read the columns of {table}"), e))?;
    Ok(rows
        .iter()
        .filter(|r| {
            let ty = r
                .get::<Option<String>, _>(1)
                .unwrap_or_default()
                .to_uppercase();
            let pk: i64 = r.get(2);
            pk == 0
                && (ty.is_empty()
                    || ["CHAR", "CLOB", "TEXT", "BLOB"]
                        .iter()
                        .any(|t| ty.contains(t)))
        })
        .map(|r| r.get(0))
        .collect())
}

fn bind_key(args: &mut SqliteArguments<'_>, v: &KeyValue) -> sqlx::Result<()> {
    match v {
        KeyValue::Int(i) => args.add(*i),
        KeyValue::Text(s) => args.add(s.clone()),
        KeyValue::Bytes(b) => args.add(b.clone()),
    }
    .map_err(sqlx::Error::Encode)
}

fn part_clause(info: &TableInfo, part: Partition) -> sqlx::Result<Option<String>> {
    if part.modulus <= 1 {
        return Ok(None);
    }
    let expr = info.shard_expr.as_deref().ok_or_else(|| {
        sqlx::Error::Protocol(format!(
            "{} cannot be split into shards or workers: its primary key is not an integer and \
             it is a WITHOUT ROWID table; run with one worker and no --shard",
            info.column.table
        ))
    })?;
    let m = part.modulus;
    Ok(Some(format!(
        "((({expr}) % {m}) + {m}) % {m} = {}",
        part.remainder
    )))
}

pub(crate) async fn fetch(
    pool: &SqlitePool,
    info: &TableInfo,
    after: Option<&[KeyValue]>,
    part: Partition,
    limit: usize,
) -> sqlx::Result<Vec<Fetched>> {
    let q = |s: &str| quote(s, '"');
    let keys: Vec<String> = info.key.iter().map(|k| q(&k.name)).collect();
    let column = q(&info.column.column);
    let mut conds = Vec::new();
    let mut args = SqliteArguments::default();
    if let Some(after) = after {
        let (sql, binds) = after_clause(keys.len(), &|i| keys[i].clone(), &mut |_| "?".into());
        conds.push(sql);
        for i in binds {
            bind_key(&mut args, &after[i])?;
        }
    }
    conds.extend(part_clause(info, part)?);
    let sql = format!(
        "SELECT {}, {column}, typeof({column}) FROM {}{} ORDER BY {} LIMIT {limit}",
        keys.join(", "),
        q(&info.column.table),
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        },
        keys.join(", ")
    );
    let rows = sqlx::query_with(&sql, args).fetch_all(pool).await?;
    let n = keys.len();
    rows.iter()
        .map(|r| {
            let key = info
                .key
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    Ok(match k.kind {
                        KeyKind::Int => KeyValue::Int(r.try_get(i)?),
                        KeyKind::Text => KeyValue::Text(r.try_get(i)?),
                        KeyKind::Bytes => KeyValue::Bytes(r.try_get(i)?),
                    })
                })
                .collect::<sqlx::Result<Vec<_>>>()?;
            let ty: String = r.try_get(n + 1)?;
            let (value, text) = match ty.as_str() {
                "null" => (None, true),
                "text" => (Some(r.try_get::<String, _>(n)?.into_bytes()), true),
                "blob" => (Some(r.try_get::<Vec<u8>, _>(n)?), false),
                // Numbers are plaintext: never re-encrypted, so their bytes do not matter.
                _ => (Some(b"0".to_vec()), true),
            };
            Ok(Fetched { key, value, text })
        })
        .collect()
}

fn bind_value(args: &mut SqliteArguments<'_>, v: &[u8], text: bool) -> sqlx::Result<()> {
    if text {
        let s = String::from_utf8(v.to_vec()).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        args.add(s).map_err(sqlx::Error::Encode)
    } else {
        args.add(v.to_vec()).map_err(sqlx::Error::Encode)
    }
}

pub(crate) async fn apply(
    pool: &SqlitePool,
    info: &TableInfo,
    updates: &[Update],
) -> sqlx::Result<u64> {
    let q = |s: &str| quote(s, '"');
    let column = q(&info.column.column);
    let wheres: Vec<String> = info
        .key
        .iter()
        .map(|k| format!("{} = ?", q(&k.name)))
        .collect();
    let sql = format!(
        "UPDATE {} SET {column} = ? WHERE {} AND {column} = ?",
        q(&info.column.table),
        wheres.join(" AND ")
    );
    let mut tx = pool.begin().await?;
    let mut changed = 0;
    for u in updates {
        let mut args = SqliteArguments::default();
        bind_value(&mut args, &u.new, u.text)?;
        for k in &u.key {
            bind_key(&mut args, k)?;
        }
        bind_value(&mut args, &u.old, u.text)?;
        changed += sqlx::query_with(&sql, args)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(changed)
}
