//! The rule file and the `when:` language.

pub mod expr;
pub mod file;

pub use expr::{parse, Condition};
pub use file::{AlertsFile, Rule, Timing};
