//! Ids in the child of a fork (without exec): the child's generator, a copy of its parent's,
//! is seeded again, so the two processes never make the same ids. Alone in its binary: the
//! child of a multi-threaded process may only do little, and this test's child makes ids and
//! writes them to a pipe.
#![cfg(unix)]
// fork, pipe, read and write through libc.
#![allow(unsafe_code)]

use tracectx::{SpanId, TraceId};

/// The next ids this thread's generator makes.
fn next_ids() -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&TraceId::random().to_bytes());
    out[16..].copy_from_slice(&SpanId::random().to_bytes());
    out
}

#[test]
fn a_forked_child_makes_ids_of_its_own() {
    // The generator of this thread is seeded before the fork.
    let _ = next_ids();
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ids = next_ids();
        unsafe {
            libc::write(fds[1], ids.as_ptr().cast(), ids.len());
            libc::_exit(0);
        }
    }
    let parent = next_ids();
    let mut child = [0u8; 24];
    let read = unsafe { libc::read(fds[0], child.as_mut_ptr().cast(), child.len()) };
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(read, 24, "the child wrote no ids");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_ne!(
        child[..16],
        parent[..16],
        "the child made its parent's trace id"
    );
    assert_ne!(
        child[16..],
        parent[16..],
        "the child made its parent's span id"
    );
}
