//! Appending each line to a file, unbuffered.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;

/// A [`MakeWriter`] that appends each line to a file, unbuffered.
///
/// The fmt layer hands over each event as one whole line, which goes to the file in one
/// `write` call on a file opened for appending: lines of concurrent writers (threads, even
/// processes) never interleave within a line, and nothing sits in a buffer to be lost at exit.
/// It is a system call per event, though: for heavy logging use [`rolling_file`](crate::logging::rolling_file) or
/// [`non_blocking`](crate::logging::non_blocking).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let writer = tracectx::logging::file_writer(&path)?;
/// let subscriber = tracectx::logging::builder()
///     .with_level(tracing::Level::INFO)
///     .with_writer(writer)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("to the file"));
/// assert!(std::fs::read_to_string(&path)?.ends_with("to the file\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileWriter {
    file: Arc<File>,
}

/// Opens (creating it if needed) `path` for appending log lines; see [`FileWriter`].
///
/// # Errors
///
/// The I/O error from opening the file.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{builder, file_writer};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// std::fs::write(&path, "a line of an earlier run\n")?;
/// let subscriber = builder().with_writer(file_writer(&path)?).build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("appended"));
/// let log = std::fs::read_to_string(&path)?;
/// assert!(log.starts_with("a line of an earlier run\n") && log.ends_with("appended\n"));
/// assert!(file_writer(dir.path().join("no/such/dir/app.log")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn file_writer(path: impl AsRef<Path>) -> io::Result<FileWriter> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path.as_ref())?;
    Ok(FileWriter {
        file: Arc::new(file),
    })
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = &'a File;

    fn make_writer(&'a self) -> Self::Writer {
        &self.file
    }
}
