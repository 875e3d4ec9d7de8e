//! The input side of a search: files (gzip or not) and streams cut into blocks of whole lines,
//! read on the searching thread or, ahead of it, on a thread of their own.
//!
//! A file is read with `read(2)`, never mapped in memory: a mapped file that another process
//! truncates (copytruncate log rotation does) kills the reading process with `SIGBUS` at the
//! first page past the new end. Read, it simply ends early, which [`open`] notices and reports
//! as an error naming what happened; the lines read before it are searched.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

use memchr::{memchr, memrchr};

/// Bytes read at a time: large enough that a system call and a hand-over between threads are
/// paid once per many lines, small enough that a block read by one core is still in the shared
/// cache when the other searches it.
const BLOCK: usize = 1 << 20;

/// Blocks in flight between the reading thread and the searching one: one being read, one being
/// searched, two waiting.
const BLOCKS: usize = 4;

/// The longest line read, in bytes, without its newline: 64 MiB.
///
/// A longer line is not a log line (a formatter writes one event per line): it is skipped, and
/// counted ([`Found::too_long`](super::Found::too_long),
/// [`Runs::too_long_lines`](super::Runs::too_long_lines)), rather than held in memory, on every
/// read path alike (a stream, a file read ahead, bytes in memory). A line of exactly this
/// length is read.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{Query, MAX_LINE_LEN};
///
/// assert_eq!(MAX_LINE_LEN, 64 << 20);
/// let mut log = b"[2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - ".to_vec();
/// log.resize(log.len() + MAX_LINE_LEN, b'x');
/// log.extend_from_slice(b"\n[2024-01-01T10:00:01.000000Z] [job_1] [-] INFO t - short\n");
/// let found = Query::new("job_1")?.search_with(&log[..], |_| Ok(()))?;
/// assert_eq!((found.lines, found.too_long), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_LINE_LEN: usize = 64 << 20;

// === open ===

/// Opens a log file for reading, decompressing it when it is gzip (by its magic bytes, so
/// whatever its name; concatenated gzip members, as log rotation makes, are read through).
///
/// A gzip file that is corrupt or cut short is read up to the damage, where reading fails:
/// [`Query::search`](super::Query::search) has then written the whole lines before it (not the
/// line cut short) and returns the error. A file that shrinks while it is read (truncated in
/// place, as copytruncate log rotation does) ends the same way: the whole lines read before are
/// searched, and reading fails with an error that says the file was truncated and at which
/// byte.
///
/// # Errors
///
/// The I/O error from opening the file.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// std::fs::write(&path, "[2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - m\n")?;
/// let mut text = String::new();
/// tracectx::logging::query::open(&path)?.read_to_string(&mut text)?;
/// assert!(text.contains("[job_1]"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn open(path: impl AsRef<Path>) -> io::Result<Box<dyn Read + Send>> {
    decode(Truncation::new(File::open(path)?))
}

/// Wraps `input` in a gzip decoder when it starts with gzip's magic bytes.
///
/// # Errors
///
/// The I/O error from reading the first bytes.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// let mut text = String::new();
/// tracectx::logging::query::decode(&b"plain text\n"[..])?.read_to_string(&mut text)?;
/// assert_eq!(text, "plain text\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn decode<R: Read + Send + 'static>(input: R) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let head = loop {
        match reader.fill_buf() {
            Ok(head) => break head,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// A file that says, when it ends, whether it ended because it shrank under the reader.
struct Truncation {
    file: File,
    read: u64,
}

impl Truncation {
    fn new(file: File) -> Self {
        Self { file, read: 0 }
    }
}

impl Read for Truncation {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && !buf.is_empty() {
            // The end: a regular file now shorter than what was read from it was truncated
            // (a pipe or a device has no length to compare).
            let meta = self.file.metadata()?;
            if meta.is_file() && meta.len() < self.read {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "truncated while it was read ({} bytes read, {} left): the lines after \
                         it were not read",
                        self.read,
                        meta.len()
                    ),
                ));
            }
        }
        self.read += n as u64;
        Ok(n)
    }
}

// === blocks of whole lines ===

/// Where a reader is in the line it is cutting.
#[derive(Debug, Default)]
struct Cutter {
    /// The line being read is longer than [`MAX_LINE_LEN`]: drop bytes up to its end.
    skipping: bool,
    /// Lines dropped for their length.
    too_long: u64,
}

impl Cutter {
    /// `buf[..filled]` holds no newline and `buf` is full: grow it, or give up on the line.
    /// Returns the new `filled`.
    fn full(&mut self, buf: &mut Vec<u8>, filled: usize) -> usize {
        if buf.len() > MAX_LINE_LEN {
            // One enormous line: not a log line. Drop it up to its end.
            self.skipping = true;
            self.too_long += 1;
            0
        } else {
            buf.resize((buf.len() * 2).clamp(BLOCK, MAX_LINE_LEN + 1), 0);
            filled
        }
    }

    /// `buf[new..filled]` was just read: while skipping, drops bytes up to the end of the long
    /// line. Returns the new `filled` (and `new`, where the fresh bytes start).
    fn skip(&mut self, buf: &mut [u8], new: usize, filled: usize) -> (usize, usize) {
        if !self.skipping {
            return (new, filled);
        }
        match memchr(b'\n', &buf[new..filled]) {
            Some(i) => {
                buf.copy_within(new + i + 1..filled, 0);
                self.skipping = false;
                (0, filled - (new + i + 1))
            }
            None => (0, 0),
        }
    }
}

/// Reads one chunk into `buf[filled..]`, retrying when interrupted.
fn read_some(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Reads `input` in large blocks and calls `f` with runs of whole lines, without the newline
/// after the last one (the last line of the input may have none). Lines longer than
/// [`MAX_LINE_LEN`] are dropped; returns how many were.
///
/// On a read error, the whole lines before it have been handed to `f`; the line cut short is
/// not.
pub(super) fn for_each_block(
    mut input: impl Read,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    let mut cut = Cutter::default();
    loop {
        if filled == buf.len() {
            filled = cut.full(&mut buf, filled);
        }
        let n = read_some(&mut input, &mut buf[filled..])?;
        if n == 0 {
            if filled > 0 && !cut.skipping {
                f(&buf[..filled])?;
            }
            return Ok(cut.too_long);
        }
        let (new, end) = cut.skip(&mut buf, filled, filled + n);
        filled = end;
        if let Some(last) = memrchr(b'\n', &buf[new..filled]).map(|i| new + i) {
            f(&buf[..last])?;
            buf.copy_within(last + 1..filled, 0);
            filled -= last + 1;
        }
    }
}

/// [`for_each_block`], with `input` read on a thread of its own while `f` runs on this one:
/// reading (a copy out of the page cache, or decompressing) and searching overlap. At most
/// [`BLOCKS`] blocks are in flight, each of [`BLOCK`] bytes or of the longest line.
///
/// When the thread cannot be started, the input is read on this thread instead.
pub(super) fn for_each_block_read_ahead(
    mut input: impl Read + Send,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    // Filled blocks (the buffer and the end of its whole lines) one way, empty buffers back.
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BLOCKS);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let reader = std::thread::Builder::new()
            .name("tracectx-read-ahead".into())
            .spawn_scoped(s, {
                let input = &mut input;
                move || read_blocks(input, &full_tx, &free_rx)
            });
        let reader = match reader {
            Ok(reader) => reader,
            // Every sender and receiver moved into the closure is dropped with it.
            Err(_) => return None,
        };
        let mut searched = Ok(());
        for (block, end) in &full_rx {
            searched = f(&block[..end]);
            if searched.is_err() {
                break;
            }
            // The reader may have finished: then the buffer is simply dropped.
            let _ = free_tx.send(block);
        }
        // Stops the reader if it is still reading (its next hand-over fails).
        drop(full_rx);
        drop(free_tx);
        let read = match reader.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // An error of `f` (the output's) comes first: it is why reading stopped.
        Some(searched.and(read))
    })
    .unwrap_or_else(|| for_each_block(input, f))
}

/// The reading thread of [`for_each_block_read_ahead`]: cuts `input` into blocks of whole
/// lines and sends them; stops quietly when the searching side hangs up.
fn read_blocks(
    input: &mut impl Read,
    full: &mpsc::SyncSender<(Vec<u8>, usize)>,
    free: &mpsc::Receiver<Vec<u8>>,
) -> io::Result<u64> {
    let mut made = 1;
    // A fresh buffer, a returned one, or (all in flight) the next one returned; `None` once
    // the searching side has hung up.
    let mut next_buffer = || -> Option<Vec<u8>> {
        let reuse = |mut b: Vec<u8>| {
            // A buffer grown for a long line is not kept at that size.
            if b.len() > BLOCK {
                b = vec![0u8; BLOCK];
            }
            b
        };
        if let Ok(b) = free.try_recv() {
            return Some(reuse(b));
        }
        if made < BLOCKS {
            made += 1;
            return Some(vec![0u8; BLOCK]);
        }
        free.recv().ok().map(reuse)
    };
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    let mut cut = Cutter::default();
    loop {
        if filled == buf.len() {
            filled = cut.full(&mut buf, filled);
        }
        let n = read_some(input, &mut buf[filled..])?;
        if n == 0 {
            if filled > 0 && !cut.skipping {
                let _ = full.send((buf, filled));
            }
            return Ok(cut.too_long);
        }
        let (new, end) = cut.skip(&mut buf, filled, filled + n);
        filled = end;
        if let Some(last) = memrchr(b'\n', &buf[new..filled]).map(|i| new + i) {
            let Some(mut next) = next_buffer() else {
                return Ok(cut.too_long);
            };
            let tail = filled - (last + 1);
            if next.len() < tail * 2 {
                next.resize((tail * 2).min(MAX_LINE_LEN + 1), 0);
            }
            next[..tail].copy_from_slice(&buf[last + 1..filled]);
            if full.send((buf, last)).is_err() {
                return Ok(cut.too_long);
            }
            buf = next;
            filled = tail;
        }
    }
}

// === a plain file, in parallel ===

/// How a regular file is read by [`for_each_block_parallel`].
pub(super) enum FileRead {
    /// A regular file at least two blocks long: read by [`for_each_block_parallel`].
    Parallel(File, u64),
    /// Anything else (a short file, gzip, a pipe or a device named by path): read as a stream.
    Stream(Box<dyn Read + Send>),
}

/// Opens `path`: a plain regular file of at least two blocks is read in parallel; a short
/// one, a gzip file or anything not a regular file is read as a stream ([`open`]).
pub(super) fn open_file(path: &Path) -> io::Result<FileRead> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() >= 2 * BLOCK as u64 {
        let mut head = [0u8; 2];
        let n = read_at_most(&file, &mut head, 0)?;
        if head[..n] != [0x1f, 0x8b] {
            return Ok(FileRead::Parallel(file, meta.len()));
        }
    }
    decode(Truncation::new(file)).map(FileRead::Stream)
}

/// `pread` until `buf` is full or the file ends; returns how many bytes were read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match read_at(file, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

/// The error of a file found shorter than it was when the search began.
fn truncated(at: u64, len: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "truncated while it was read (it ended at byte {at} of the {len} it had when the \
             search began): the lines after it were not read"
        ),
    )
}

/// The whole lines that start in one block of a file, read by one of the two threads of
/// [`for_each_block_parallel`].
struct BlockLines<R> {
    /// What the search made of them.
    found: R,
    /// Lines that started in the block and were dropped for their length.
    too_long: u64,
    /// The file ended early: it was truncated under the search.
    truncated: Option<io::Error>,
}

/// Reads the lines that *start* in block `k` of `file` (`len` bytes when the search began)
/// into `buf` and runs `search` on them: the line that starts before the block belongs to
/// the block before, the line that runs past its end is read on to its end.
fn read_block<R>(
    file: &File,
    len: u64,
    k: u64,
    buf: &mut Vec<u8>,
    search: &(impl Fn(&[u8]) -> R + Sync),
) -> io::Result<BlockLines<R>> {
    let start = k * BLOCK as u64;
    let end = (start + BLOCK as u64).min(len);
    // One byte more in front: whether a line starts right at `start`.
    let from = start.saturating_sub(1);
    let want = (end - from) as usize;
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let mut filled = read_at_most(file, &mut buf[..want], from)?;
    let mut truncated_at = (filled < want).then(|| from + filled as u64);
    // Where the first line starting in the block starts.
    let first = if k == 0 {
        0
    } else {
        memchr(b'\n', &buf[..filled]).map_or(filled, |i| i + 1)
    };
    // Where the last one starts, and where the whole lines before it end.
    let last = memrchr(b'\n', &buf[first..filled]).map_or(first, |i| first + i + 1);
    let before_last = last.saturating_sub(1).max(first);
    let mut too_long = 0;
    let lines_end = if first == filled {
        // No line starts in this block (or the file ended before one did).
        first
    } else if last == filled {
        // The block ends with a newline: the lines up to it, as a stream's blocks have them.
        filled - 1
    } else if truncated_at.is_some() {
        // Only the whole lines read before the file ended: not the one it cut short.
        before_last
    } else {
        // The last line runs past the block: read on to its newline, in growing steps.
        let mut step = 4096;
        loop {
            let line = filled - last;
            if line > MAX_LINE_LEN {
                // Not a log line: dropped, and the lines before it kept.
                too_long = 1;
                break before_last;
            }
            let room = step.min(MAX_LINE_LEN + 1 - line);
            if buf.len() < filled + room {
                buf.resize(filled + room, 0);
            }
            let at = from + filled as u64;
            let n = read_at_most(file, &mut buf[filled..filled + room], at)?;
            if let Some(i) = memchr(b'\n', &buf[filled..filled + n]) {
                break filled + i;
            }
            filled += n;
            if n < room {
                // The end of the file. Past the length it had when the search began, the last
                // line has no newline; before it, the file shrank under the search.
                let at = at + n as u64;
                if at < len {
                    truncated_at = Some(at);
                    break before_last;
                }
                break filled;
            }
            step = (step * 2).min(BLOCK);
        }
    };
    Ok(BlockLines {
        found: search(&buf[first..lines_end]),
        too_long,
        truncated: truncated_at.map(|at| truncated(at, len)),
    })
}

/// Reads the regular file `file`, `len` bytes long when the search began, in blocks of
/// whole lines on two threads at once, each reading (`pread`) and searching its own blocks,
/// so that a block is searched on the core that copied it while it is in that core's cache;
/// `emit` gets what `search` made of each block, in the order of the file, on this thread.
/// Returns the number of lines dropped for being longer than [`MAX_LINE_LEN`].
///
/// The file is read up to `len`, and the line that runs past it to its end: lines appended
/// after the search began are not read. A file found shorter than `len` ends the search with
/// an error, after the whole lines read before the end.
pub(super) fn for_each_block_parallel<R: Send>(
    file: &File,
    len: u64,
    search: impl Fn(&[u8]) -> R + Sync,
    mut emit: impl FnMut(R) -> io::Result<()>,
) -> io::Result<u64> {
    let blocks = len.div_ceil(BLOCK as u64);
    // The helper reads and searches the odd blocks, this thread the even ones.
    let (tx, rx) = mpsc::sync_channel::<io::Result<BlockLines<R>>>(2);
    let search = &search;
    std::thread::scope(|s| {
        let helper = std::thread::Builder::new()
            .name("tracectx-search".into())
            .spawn_scoped(s, move || {
                let mut buf = Vec::new();
                let mut k = 1;
                while k < blocks {
                    let lines = read_block(file, len, k, &mut buf, search);
                    let stop = !matches!(&lines, Ok(l) if l.truncated.is_none());
                    if tx.send(lines).is_err() || stop {
                        return;
                    }
                    if buf.len() > 2 * BLOCK {
                        buf = Vec::new();
                    }
                    k += 2;
                }
            });
        let rx = match helper {
            Ok(_) => Some(rx),
            // No second thread: every block is read here.
            Err(_) => None,
        };
        let mut buf = Vec::new();
        let mut too_long = 0;
        let mut k = 0;
        while k < blocks {
            let lines = match (&rx, k % 2) {
                (Some(rx), 1) => match rx.recv() {
                    Ok(lines) => lines,
                    // The helper stops only after sending an error or a truncation.
                    Err(_) => break,
                },
                _ => read_block(file, len, k, &mut buf, search),
            }?;
            too_long += lines.too_long;
            emit(lines.found)?;
            if let Some(e) = lines.truncated {
                return Err(e);
            }
            if buf.len() > 2 * BLOCK {
                buf = Vec::new();
            }
            k += 1;
        }
        Ok(too_long)
    })
}

/// Calls `f` with each line of `block` (without newlines).
pub(super) fn for_each_line(
    block: &[u8],
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        f(&block[start..end])?;
        start = end + 1;
    }
    if start < block.len() {
        f(&block[start..])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `chunk` bytes per read, as a pipe does.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn lines_of(
        read: impl FnOnce(&mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<u64>,
    ) -> (Vec<Vec<u8>>, u64) {
        let mut lines = Vec::new();
        let too_long = read(&mut |block: &[u8]| {
            for_each_line(block, |l| {
                lines.push(l.to_vec());
                Ok(())
            })
        })
        .unwrap();
        (lines, too_long)
    }

    #[test]
    fn both_paths_cut_the_same_lines_whatever_the_read_size() {
        let mut input = Vec::new();
        for i in 0..40_000 {
            input.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 300)).as_bytes());
        }
        input.extend_from_slice(b"last, without a newline");
        let want: Vec<Vec<u8>> = input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        for chunk in [1, 7, 4096, BLOCK - 1, BLOCK, usize::MAX] {
            let (one, _) = lines_of(|f| for_each_block(Trickle(&input, chunk), f));
            let (ahead, _) = lines_of(|f| for_each_block_read_ahead(Trickle(&input, chunk), f));
            assert!(one == want, "one thread, reads of {chunk}");
            assert!(ahead == want, "read ahead, reads of {chunk}");
        }
    }

    /// The lines of a file read by [`for_each_block_parallel`], in order, and the count of
    /// lines too long.
    fn parallel_lines(bytes: &[u8]) -> (Vec<Vec<u8>>, u64) {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        let mut lines = Vec::new();
        let too_long = for_each_block_parallel(
            &file,
            bytes.len() as u64,
            |block| {
                let mut found = Vec::new();
                for_each_line(block, |l| {
                    found.push(l.to_vec());
                    Ok(())
                })
                .unwrap();
                found
            },
            |found| {
                lines.extend(found);
                Ok(())
            },
        )
        .unwrap();
        (lines, too_long)
    }

    #[test]
    fn parallel_blocks_cut_the_same_lines_as_a_stream_wherever_lines_end() {
        // Lines ending right before, on and right after each block boundary; a file ending
        // on a boundary with and without a newline; empty lines; a line spanning blocks.
        let mut layouts: Vec<Vec<u8>> = Vec::new();
        for shift in [0usize, 1, 2, 3] {
            for tail in [&b""[..], b"\n", b"x", b"xyz\n"] {
                let mut bytes = Vec::new();
                while bytes.len() < 3 * BLOCK - 64 + shift {
                    let n = bytes.len();
                    bytes
                        .extend_from_slice(format!("line {n} {}\n", "y".repeat(n % 97)).as_bytes());
                    if n % 7 == 0 {
                        bytes.push(b'\n');
                    }
                }
                // Fill to the boundary exactly, give or take `shift`.
                let pad = (3 * BLOCK + shift).saturating_sub(bytes.len() + 1);
                bytes.extend(std::iter::repeat_n(b'z', pad));
                bytes.push(b'\n');
                bytes.extend_from_slice(&b"w".repeat(BLOCK + 17));
                bytes.push(b'\n');
                bytes.extend_from_slice(tail);
                layouts.push(bytes);
            }
        }
        for bytes in layouts {
            let (want, _) = lines_of(|f| for_each_block(&bytes[..], f));
            let (got, too_long) = parallel_lines(&bytes);
            assert_eq!(too_long, 0);
            assert!(
                got == want,
                "{} bytes ending {:?}",
                bytes.len(),
                &bytes[bytes.len() - 4..]
            );
        }
    }

    #[test]
    fn a_file_that_shrinks_under_a_parallel_search_is_an_error_after_its_whole_lines() {
        let line = |i: usize| format!("line {i:08} of the log, long enough to matter\n");
        let text: String = (0..200_000).map(line).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        let path = file.path().to_owned();
        let reader = File::open(&path).unwrap();
        let mut seen = Vec::new();
        let r = for_each_block_parallel(
            &reader,
            text.len() as u64,
            |block| block.to_vec(),
            |block| {
                if seen.is_empty() {
                    // copytruncate: the file is emptied in place under the search.
                    file.as_file().set_len(0)?;
                }
                if !block.is_empty() {
                    seen.push(block);
                }
                Ok(())
            },
        );
        let e = r.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            e.to_string().starts_with("truncated while it was read"),
            "{e}"
        );
        // Whole lines, the file's first ones, in order.
        let got: Vec<u8> = seen.join(&b'\n');
        assert!(!got.is_empty());
        assert!(text.as_bytes().starts_with(&got));
        assert_eq!(text.as_bytes()[got.len()], b'\n');
    }

    #[test]
    fn an_error_of_the_search_stops_the_reader() {
        let input = b"a\n".repeat(10 * BLOCK);
        let mut blocks = 0;
        let r = for_each_block_read_ahead(&input[..], |_| {
            blocks += 1;
            Err(io::Error::other("output closed"))
        });
        assert_eq!(r.unwrap_err().to_string(), "output closed");
        assert_eq!(blocks, 1);
    }
}
