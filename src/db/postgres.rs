//! PostgreSQL: the catalog (`pg_attribute`, `pg_index`), batch reads in key order, and each
//! batch's conditional updates as one `UPDATE ... FROM UNNEST(...)` statement.
//!
//! Integer keys are read as `int8`; keys of other types (text, uuid, dates...) are read as
//! text and cast back to their type when compared, so any key type sorts as the index does.

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgPool, Row};

use super::connection::{
    after_clause, db_error, quote, ColumnRef, Fetched, KeyColumn, KeyKind, KeyValue, Partition,
    TableInfo, Update,
};
use crate::error::{Error, Result};

const TEXT_TYPES: [&str; 4] = ["text", "varchar", "bpchar", "citext"];

pub(crate) async fn describe(pool: &PgPool, col: &ColumnRef) -> Result<TableInfo> {
    let rel = quote(&col.table, '"');
    let what = |e| db_error(format!("cannot read the columns of {}", col.table), e);
    let rows = sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(&rel)
    .fetch_all(pool)
    .await
    .map_err(what)?;
    if rows.is_empty() {
        return Err(Error::Argument(format!(
            "table {} does not exist in this database (or is not on the search_path): check \
             the name, or write schema.table.column",
            col.table
        )));
    }
    let mut binary = None;
    let mut names = Vec::new();
    for r in &rows {
        let name: String = r.get(0);
        let typname: String = r.get(2);
        if name == col.column {
            binary = Some(if typname == "bytea" {
                true
            } else if TEXT_TYPES.contains(&typname.as_str()) {
                false
            } else {
                return Err(Error::Argument(format!(
                    "column {col} is of type {typname}: encrypted values live in text or bytea \
                     columns, so this one cannot hold any"
                )));
            });
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
    let pk = sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text \
         FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE i.indrelid = to_regclass($1) AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    .bind(&rel)
    .fetch_all(pool)
    .await
    .map_err(what)?;
    let key: Vec<KeyColumn> = pk
        .iter()
        .map(|r| {
            let typname: String = r.get(2);
            KeyColumn {
                name: r.get(0),
                kind: match typname.as_str() {
                    "int2" | "int4" | "int8" => KeyKind::Int,
                    "bytea" => KeyKind::Bytes,
                    _ => KeyKind::Text,
                },
                sql_type: r.get(1),
            }
        })
        .collect();
    let shard_expr = key.first().map(|k| {
        let c = quote(&k.name, '"');
        match k.kind {
            KeyKind::Int => format!("{c}::int8"),
            _ => format!("hashtext({c}::text)::int8"),
        }
    });
    Ok(TableInfo {
        column: col.clone(),
        key,
        binary,
        shard_expr,
    })
}

/// The text and bytea columns of `table` outside its primary key.
pub(crate) async fn text_columns(pool: &PgPool, table: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT a.attname::text, t.typname::text, \
         COALESCE(a.attnum = ANY((SELECT i.indkey FROM pg_index i \
           WHERE i.indrelid = a.attrelid AND i.indisprimary)::int2[]), false) \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(quote(table, '"'))
    .fetch_all(pool)
    .await
    .map_err(|e| db_error(format!("cannot read the columns of {table}"), e))?;
    Ok(rows
        .iter()
        .filter(|r| {
            let ty: String = r.get(1);
            let in_key: bool = r.get(2);
            !in_key && (ty == "bytea" || TEXT_TYPES.contains(&ty.as_str()))
        })
        .map(|r| r.get(0))
        .collect())
}

fn bind_key(args: &mut PgArguments, v: &KeyValue) -> sqlx::Result<()> {
    match v {
        KeyValue::Int(i) => args.add(*i),
        KeyValue::Text(s) => args.add(s.clone()),
        KeyValue::Bytes(b) => args.add(b.clone()),
    }
    .map_err(sqlx::Error::Encode)
}

/// The placeholder for a key column: text is cast back to the column's type.
fn key_param(k: &KeyColumn, n: usize) -> String {
    match k.kind {
        KeyKind::Text => format!("CAST(${n} AS {})", k.sql_type),
        _ => format!("${n}"),
    }
}

pub(crate) async fn fetch(
    pool: &PgPool,
    info: &TableInfo,
    after: Option<&[KeyValue]>,
    part: Partition,
    limit: usize,
) -> sqlx::Result<Vec<Fetched>> {
    let q = |s: &str| quote(s, '"');
    let keys: Vec<String> = info.key.iter().map(|k| q(&k.name)).collect();
    let selected: Vec<String> = info
        .key
        .iter()
        .zip(&keys)
        .map(|(k, c)| match k.kind {
            KeyKind::Int => format!("{c}::int8"),
            KeyKind::Text => format!("{c}::text"),
            KeyKind::Bytes => c.clone(),
        })
        .collect();
    let column = q(&info.column.column);
    let mut conds = Vec::new();
    let mut args = PgArguments::default();
    if let Some(after) = after {
        let mut n = 0;
        let (sql, binds) = after_clause(keys.len(), &|i| keys[i].clone(), &mut |i| {
            n += 1;
            key_param(&info.key[i], n)
        });
        conds.push(sql);
        for i in binds {
            bind_key(&mut args, &after[i])?;
        }
    }
    if part.modulus > 1 {
        let expr = info.shard_expr.as_deref().unwrap_or("0");
        let m = part.modulus;
        conds.push(format!(
            "((({expr}) % {m}) + {m}) % {m} = {}",
            part.remainder
        ));
    }
    let sql = format!(
        "SELECT {}, {column} FROM {}{} ORDER BY {} LIMIT {limit}",
        selected.join(", "),
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
            let value = if info.binary {
                r.try_get::<Option<Vec<u8>>, _>(n)?
            } else {
                r.try_get::<Option<String>, _>(n)?.map(String::into_bytes)
            };
            Ok(Fetched {
                key,
                value,
                text: !info.binary,
            })
        })
        .collect()
}

fn text_array(values: impl Iterator<Item = Vec<u8>>) -> sqlx::Result<Vec<String>> {
    values
        .map(|v| String::from_utf8(v).map_err(|e| sqlx::Error::Encode(Box::new(e))))
        .collect()
}

pub(crate) async fn apply(
    pool: &PgPool,
    info: &TableInfo,
    updates: &[Update],
) -> sqlx::Result<u64> {
    let q = |s: &str| quote(s, '"');
    let column = q(&info.column.column);
    let vtype = if info.binary { "bytea[]" } else { "text[]" };
    let mut args = PgArguments::default();
    if info.binary {
        args.add(updates.iter().map(|u| u.new.clone()).collect::<Vec<_>>())
            .map_err(sqlx::Error::Encode)?;
        args.add(updates.iter().map(|u| u.old.clone()).collect::<Vec<_>>())
            .map_err(sqlx::Error::Encode)?;
    } else {
        args.add(text_array(updates.iter().map(|u| u.new.clone()))?)
            .map_err(sqlx::Error::Encode)?;
        args.add(text_array(updates.iter().map(|u| u.old.clone()))?)
            .map_err(sqlx::Error::Encode)?;
    }
    let mut arrays = vec![format!("$1::{vtype}"), format!("$2::{vtype}")];
    let mut names = vec!["se_new".to_string(), "se_old".to_string()];
    let mut joins = Vec::new();
    for (i, k) in info.key.iter().enumerate() {
        let p = i + 3;
        let col = |u: &Update| u.key[i].clone();
        let r = match k.kind {
            KeyKind::Int => {
                arrays.push(format!("${p}::int8[]"));
                args.add(
                    updates
                        .iter()
                        .map(|u| match col(u) {
                            KeyValue::Int(v) => v,
                            _ => 0,
                        })
                        .collect::<Vec<i64>>(),
                )
            }
            KeyKind::Text => {
                arrays.push(format!("${p}::text[]"));
                args.add(
                    updates
                        .iter()
                        .map(|u| match col(u) {
                            KeyValue::Text(v) => v,
                            other => other.to_string(),
                        })
                        .collect::<Vec<String>>(),
                )
            }
            KeyKind::Bytes => {
                arrays.push(format!("${p}::bytea[]"));
                args.add(
                    updates
                        .iter()
                        .map(|u| match col(u) {
                            KeyValue::Bytes(v) => v,
                            _ => Vec::new(),
                        })
                        .collect::<Vec<Vec<u8>>>(),
                )
            }
        };
        r.map_err(sqlx::Error::Encode)?;
        let name = format!("se_k{i}");
        joins.push(match k.kind {
            KeyKind::Text => format!("t.{} = CAST(u.{name} AS {})", q(&k.name), k.sql_type),
            _ => format!("t.{} = u.{name}", q(&k.name)),
        });
        names.push(name);
    }
    let sql = format!(
        "UPDATE {} AS t SET {column} = u.se_new FROM UNNEST({}) AS u({}) \
         WHERE {} AND t.{column} = u.se_old",
        q(&info.column.table),
        arrays.join(", "),
        names.join(", "),
        joins.join(" AND ")
    );
    Ok(sqlx::query_with(&sql, args)
        .execute(pool)
        .await?
        .rows_affected())
}
