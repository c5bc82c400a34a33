//! Database columns on postgres (issue 16): the scenarios of tests/db_common.
#![cfg(feature = "db")]

mod cli_common;
mod db_common;

fn db() -> Option<db_common::TestDb> {
    db_common::from_env("SE_TEST_POSTGRES_URL")
}

#[test]
fn mixed_column_value_by_value() {
    if let Some(t) = db() {
        db_common::mixed_column(&t, "se_mixed");
    }
}

#[test]
fn composite_and_text_keys() {
    if let Some(t) = db() {
        db_common::composite_key(&t, "se_composite");
    }
}

#[test]
fn table_without_primary_key_is_refused() {
    if let Some(t) = db() {
        db_common::no_primary_key(&t, "se_nopk");
    }
}

#[test]
fn two_shards_cover_the_table_once() {
    if let Some(t) = db() {
        db_common::two_shards(&t, "se_shards");
    }
}

#[test]
fn concurrent_writes_are_never_lost() {
    if let Some(t) = db() {
        db_common::concurrent_writer(&t, "se_writer");
    }
}

#[test]
fn command_line_kill_and_resume() {
    if let Some(t) = db() {
        db_common::kill_and_resume(&t, "se_resume");
    }
}

#[test]
fn command_line_statuses_json_and_no_password() {
    if let Some(t) = db() {
        db_common::command_line_contract(&t, "se_cli");
    }
}
