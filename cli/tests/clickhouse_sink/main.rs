//! `tickwatch sink clickhouse` on the real broker, registry and ClickHouse:
//! - 22 SIGKILLs of the writer at random points while records keep arriving lose no row and
//!   leave none twice under `FINAL`; prices and sizes arrive exact, a corrected bar keeps its
//!   highest version, mark and index rows sharing an event time are both kept, and records
//!   that are not what their topic carries are kept in the quarantine table;
//! - ClickHouse killed for 60 s: nothing is committed while it is down, consumption pauses
//!   (memory bounded while 150 MB more arrive), and every row is there after it comes back.

mod harness;
mod kills;
mod outage;
mod records;
