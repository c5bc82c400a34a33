//! Database columns on postgres (issue 16): the scenarios of tests/db_common.
#![cfg(feature = "db")]

mod cli_common;
#[macro_use]
mod db_common;

fn db() -> Option<db_common::TestDb> {
    db_common::from_env("SE_TEST_POSTGRES_URL")
}

db_scenarios!(db);
