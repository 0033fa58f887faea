//! Every lint rule, one per file. Codes are stable: never reuse or renumber one.
//!
//! - SG0xx: pack structure (files, sections, transaction shape, effects, rollbacks)
//! - SG1xx: lock safety on existing tables and schema hazards (Squawk's and
//!   strong_migrations' family of rules); SG130–SG132 follow locks across statements

use super::Rule;

pub mod sg001_parse_error;
pub mod sg002_missing_file;
pub mod sg003_stray_sql;
pub mod sg004_lock_mismatch;
pub mod sg010_sections;
pub mod sg011_readonly_file_tx;
pub mod sg012_transaction_shape;
pub mod sg013_post_commit_read_only;
pub mod sg014_section_i_comments;
pub mod sg015_timeouts;
pub mod sg016_session_set;
pub mod sg017_non_transactional;
pub mod sg018_psql_meta;
pub mod sg019_required_header;
pub mod sg020_undeclared_effect;
pub mod sg021_forbidden;
pub mod sg022_protected;
pub mod sg023_opaque;
pub mod sg024_session_side_effect;
pub mod sg025_plain_step;
pub mod sg026_batched_step;
pub mod sg030_rollback_missing;
pub mod sg031_rollback_scope;
pub mod sg032_rollback_order;
pub mod sg033_requires;
pub mod sg101_not_null_without_default;
pub mod sg102_index_not_concurrent;
pub mod sg103_column_type_change;
pub mod sg104_constraint_not_valid;
pub mod sg105_rename;
pub mod sg106_drop_column;
pub mod sg107_set_not_null;
pub mod sg108_unique_without_index;
pub mod sg109_drop_table;
pub mod sg110_volatile_default;
pub mod sg111_drop_index_not_concurrent;
pub mod sg112_reindex_not_concurrent;
pub mod sg113_detach_partition_not_concurrent;
pub mod sg114_exclusion_constraint;
pub mod sg115_drop_not_null;
pub mod sg116_truncate_cascade;
pub mod sg117_renaming_object;
pub mod sg118_dropping_object;
pub mod sg119_integer_key;
pub mod sg120_serial_column;
pub mod sg121_char_column;
pub mod sg122_varchar_length;
pub mod sg123_timestamp_without_tz;
pub mod sg124_json_column;
pub mod sg125_domain_constraint;
pub mod sg126_enum_value_position;
pub mod sg127_identifier_too_long;
pub mod sg128_duplicate_assignment;
pub mod sg129_table_rewrite_maintenance;
pub mod sg130_dml_under_ddl_lock;
pub mod sg131_lock_escalation;
pub mod sg132_lock_report;
pub mod sg133_unqualified_table;
pub mod sg134_wide_index;

/// Every rule, in code order.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &sg001_parse_error::ParseError,
        &sg002_missing_file::MissingFile,
        &sg003_stray_sql::StraySql,
        &sg004_lock_mismatch::LockMismatch,
        &sg010_sections::Sections,
        &sg011_readonly_file_tx::ReadOnlyFileTx,
        &sg012_transaction_shape::TransactionShape,
        &sg013_post_commit_read_only::PostCommitReadOnly,
        &sg014_section_i_comments::SectionIComments,
        &sg015_timeouts::Timeouts,
        &sg016_session_set::SessionSet,
        &sg017_non_transactional::NonTransactional,
        &sg018_psql_meta::PsqlMeta,
        &sg019_required_header::RequiredHeader,
        &sg020_undeclared_effect::UndeclaredEffect,
        &sg021_forbidden::Forbidden,
        &sg022_protected::Protected,
        &sg023_opaque::Opaque,
        &sg024_session_side_effect::SessionSideEffect,
        &sg025_plain_step::PlainStep,
        &sg026_batched_step::BatchedStep,
        &sg030_rollback_missing::RollbackMissing,
        &sg031_rollback_scope::RollbackScope,
        &sg032_rollback_order::RollbackOrder,
        &sg033_requires::Requires,
        &sg101_not_null_without_default::NotNullWithoutDefault,
        &sg102_index_not_concurrent::IndexNotConcurrent,
        &sg103_column_type_change::ColumnTypeChange,
        &sg104_constraint_not_valid::ConstraintNotValid,
        &sg105_rename::Rename,
        &sg106_drop_column::DropColumn,
        &sg107_set_not_null::SetNotNull,
        &sg108_unique_without_index::UniqueWithoutIndex,
        &sg109_drop_table::DropTable,
        &sg110_volatile_default::VolatileDefault,
        &sg111_drop_index_not_concurrent::DropIndexNotConcurrent,
        &sg112_reindex_not_concurrent::ReindexNotConcurrent,
        &sg113_detach_partition_not_concurrent::DetachPartitionNotConcurrent,
        &sg114_exclusion_constraint::ExclusionConstraint,
        &sg115_drop_not_null::DropNotNull,
        &sg116_truncate_cascade::TruncateCascade,
        &sg117_renaming_object::RenamingObject,
        &sg118_dropping_object::DroppingObject,
        &sg119_integer_key::IntegerKey,
        &sg120_serial_column::SerialColumn,
        &sg121_char_column::CharColumn,
        &sg122_varchar_length::VarcharLength,
        &sg123_timestamp_without_tz::TimestampWithoutTz,
        &sg124_json_column::JsonColumn,
        &sg125_domain_constraint::DomainConstraint,
        &sg126_enum_value_position::EnumValuePosition,
        &sg127_identifier_too_long::IdentifierTooLong,
        &sg128_duplicate_assignment::DuplicateAssignment,
        &sg129_table_rewrite_maintenance::BlockingRewrite,
        &sg130_dml_under_ddl_lock::DmlUnderDdlLock,
        &sg131_lock_escalation::LockEscalation,
        &sg132_lock_report::LockReport,
        &sg133_unqualified_table::UnqualifiedTable,
        &sg134_wide_index::WideIndex,
    ]
}
