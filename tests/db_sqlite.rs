//! Database columns on sqlite (issue 16): the scenarios of tests/db_common.
#![cfg(feature = "db")]

mod cli_common;
#[macro_use]
mod db_common;

fn db() -> Option<db_common::TestDb> {
    Some(db_common::sqlite())
}

db_scenarios!(db);
