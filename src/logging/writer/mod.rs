//! Where log lines go: a file, appended to line by line, or a writer thread fed through a
//! bounded queue (any `io::Write`, or a rolling file).

mod file;
mod non_blocking;

pub use file::{FileWriter, file_writer};
pub use non_blocking::{NonBlocking, NonBlockingWriter, WorkerGuard, non_blocking, rolling_file};
