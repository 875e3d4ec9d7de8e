//! Where log lines go: a file, appended to line by line, or a writer thread fed through a
//! queue bounded in lines and bytes (any `io::Write`, a rolling file, or a file per run).

mod file;
mod non_blocking;
mod per_run;
mod queue;

pub use file::{FileWriter, file_writer};
pub use non_blocking::{
    NonBlocking, NonBlockingBuilder, NonBlockingWriter, non_blocking, rolling_file,
};
pub use per_run::{
    DEFAULT_MAX_OPEN_FILES, OUTSIDE_RUNS_FILE, PerRunFiles, PerRunFilesBuilder, PerRunWriter,
    per_run_files, run_id_from_file_name, run_log_file_name,
};
pub use queue::{
    DEFAULT_BUFFERED_BYTES_LIMIT, DEFAULT_BUFFERED_LINES_LIMIT, WorkerGuard, WriterStats,
};

/// A path as messages show it: escaped as every text from outside is ([`crate::escape`]),
/// whatever bytes it holds, so that no control byte reaches a terminal.
fn shown(path: &std::path::Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        crate::escape::bytes(path.as_os_str().as_bytes()).to_string()
    }
    #[cfg(not(unix))]
    {
        crate::escape::text(&path.to_string_lossy()).to_string()
    }
}
