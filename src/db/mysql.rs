//! MySQL and MariaDB: the catalog (`information_schema`), batch reads in key order and
//! conditional updates, compared as bytes (`c = <binary>`) so that a case-insensitive
//! collation cannot mistake one value for another.

use sqlx::mysql::MySqlArguments;
use sqlx::{Arguments, MySqlPool, Row};

use super::connection::{
    after_clause, db_error, quote, ColumnRef, Fetched, KeyColumn, KeyKind, KeyValue, Partition,
    TableInfo, Update,
};
use crate::error::{Error, Result};

const INT_TYPES: [&str; 5] = ["tinyint", "smallint", "mediumint", "int", "bigint"];
const BINARY_TYPES: [&str; 6] = [
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
];
const TEXT_TYPES: [&str; 6] = [
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
];

pub(crate) async fn describe(pool: &MySqlPool, col: &ColumnRef) -> Result<TableInfo> {
    let (schema, table) = match col.table.split_once('.') {
        Some((s, t)) => (Some(s.to_string()), t.to_string()),
        None => (None, col.table.clone()),
    };
    let what = |e| db_error(format!("cannot read the columns of {}", col.table), e);
    let rows = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(&schema)
    .bind(&table)
    .fetch_all(pool)
    .await
    .map_err(what)?;
    if rows.is_empty() {
        return Err(Error::Argument(format!(
            "table {} does not exist in this database: check the name (TABLE.COLUMN, or \
             database.table.column)",
            col.table
        )));
    }
    let mut types = Vec::new();
    let mut binary = None;
    for r in &rows {
        let name: String = r.get(0);
        let ty: String = r.get::<String, _>(1).to_ascii_lowercase();
        if name == col.column {
            binary = Some(if BINARY_TYPES.contains(&ty.as_str()) {
                true
            } else if TEXT_TYPES.contains(&ty.as_str()) {
                false
            } else {
                return Err(Error::Argument(format!(
                    "column {col} is of type {ty}: encrypted values live in text or binary \
                     columns, so this one cannot hold any"
                )));
            });
        }
        types.push((name, ty));
    }
    let binary = binary.ok_or_else(|| {
        let names: Vec<&str> = types.iter().map(|(n, _)| n.as_str()).collect();
        Error::Argument(format!(
            "table {} has no column {} (its columns: {})",
            col.table,
            col.column,
            names.join(", ")
        ))
    })?;
    let pk = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
         AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
    )
    .bind(&schema)
    .bind(&table)
    .fetch_all(pool)
    .await
    .map_err(what)?;
    let key: Vec<KeyColumn> = pk
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let ty = types
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            KeyColumn {
                kind: if INT_TYPES.contains(&ty.as_str()) {
                    KeyKind::Int
                } else if BINARY_TYPES.contains(&ty.as_str()) {
                    KeyKind::Bytes
                } else {
                    KeyKind::Text
                },
                name,
                sql_type: ty,
            }
        })
        .collect();
    let shard_expr = key.first().map(|k| {
        let c = quote(&k.name, '`');
        match k.kind {
            KeyKind::Int => format!("CAST({c} AS SIGNED)"),
            _ => format!("CRC32({c})"),
        }
    });
    Ok(TableInfo {
        column: col.clone(),
        key,
        binary,
        shard_expr,
    })
}

/// The text and binary columns of `table` outside its primary key.
pub(crate) async fn text_columns(pool: &MySqlPool, table: &str) -> Result<Vec<String>> {
    let (schema, name) = match table.split_once('.') {
        Some((s, t)) => (Some(s.to_string()), t.to_string()),
        None => (None, table.to_string()),
    };
    let rows = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), CAST(COLUMN_KEY AS CHAR) \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(&schema)
    .bind(&name)
    .fetch_all(pool)
    .await
    .map_err(|e| db_error(format!("cannot read the columns of {table}"), e))?;
    Ok(rows
        .iter()
        .filter(|r| {
            let ty = r.get::<String, _>(1).to_ascii_lowercase();
            let key: String = r.get(2);
            key != "PRI"
                && (TEXT_TYPES.contains(&ty.as_str()) || BINARY_TYPES.contains(&ty.as_str()))
        })
        .map(|r| r.get(0))
        .collect())
}

fn bind_key(args: &mut MySqlArguments, v: &KeyValue) -> sqlx::Result<()> {
    match v {
        KeyValue::Int(i) => args.add(*i),
        KeyValue::Text(s) => args.add(s.clone()),
        KeyValue::Bytes(b) => args.add(b.clone()),
    }
    .map_err(sqlx::Error::Encode)
}

pub(crate) async fn fetch(
    pool: &MySqlPool,
    info: &TableInfo,
    after: Option<&[KeyValue]>,
    part: Partition,
    limit: usize,
) -> sqlx::Result<Vec<Fetched>> {
    let q = |s: &str| quote(s, '`');
    let keys: Vec<String> = info.key.iter().map(|k| q(&k.name)).collect();
    let selected: Vec<String> = info
        .key
        .iter()
        .zip(&keys)
        .map(|(k, c)| match k.kind {
            KeyKind::Int => format!("CAST({c} AS SIGNED)"),
            KeyKind::Text => format!("CAST({c} AS CHAR)"),
            KeyKind::Bytes => c.clone(),
        })
        .collect();
    let column = q(&info.column.column);
    let mut conds = Vec::new();
    let mut args = MySqlArguments::default();
    if let Some(after) = after {
        let (sql, binds) = after_clause(keys.len(), &|i| keys[i].clone(), &mut |_| "?".into());
        conds.push(sql);
        for i in binds {
            bind_key(&mut args, &after[i])?;
        }
    }
    if part.modulus > 1 {
        let expr = info.shard_expr.as_deref().unwrap_or("0");
        let m = part.modulus;
        conds.push(format!(
            "MOD(MOD({expr}, {m}) + {m}, {m}) = {}",
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

pub(crate) async fn apply(
    pool: &MySqlPool,
    info: &TableInfo,
    updates: &[Update],
) -> sqlx::Result<u64> {
    let q = |s: &str| quote(s, '`');
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
        let mut args = MySqlArguments::default();
        if u.text {
            let s =
                String::from_utf8(u.new.clone()).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            args.add(s).map_err(sqlx::Error::Encode)?;
        } else {
            args.add(u.new.clone()).map_err(sqlx::Error::Encode)?;
        }
        for k in &u.key {
            bind_key(&mut args, k)?;
        }
        // Bytes, so the comparison is binary whatever the column's collation.
        args.add(u.old.clone()).map_err(sqlx::Error::Encode)?;
        changed += sqlx::query_with(&sql, args)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(changed)
}
