//! For the tests that need root (kernel programs, network namespaces, real servers): the
//! root check, and the lock that keeps the modules of one test binary apart.
//!
//! Tests of one module may run in parallel with each other, but never beside a test of
//! another module of the same binary: a module's checks (programs left in the kernel,
//! kernel counters, the agent's own connections) are written for its own siblings only.
//! Each root test starts with `let _root = root_test(module_path!());`.

#![allow(dead_code)]

use std::sync::{Condvar, Mutex, PoisonError};

/// Fails the test with a clear message unless running as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test loads eBPF programs (and may create network namespaces): it must run as \
         root (euid is {euid}); run the test suite with sudo ./scripts/test.sh"
    );
}

/// The start of every root test: fails without root, then waits for [`module_lock`].
pub fn root_test(module: &'static str) -> ModuleGuard {
    require_root();
    module_lock(module)
}

/// The module whose tests run now, and how many of them.
static RUNNING: Mutex<(Option<&'static str>, usize)> = Mutex::new((None, 0));
static CHANGED: Condvar = Condvar::new();

/// Held for the length of one test; released on drop (also when the test panics).
pub struct ModuleGuard;

/// Waits until no test of another module runs, then counts this test in. A blocking wait:
/// call it first thing in a test, before any `.await`.
pub fn module_lock(module: &'static str) -> ModuleGuard {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match running.0 {
            None => *running = (Some(module), 1),
            Some(m) if m == module => running.1 += 1,
            Some(_) => {
                running = CHANGED.wait(running).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
        }
        return ModuleGuard;
    }
}

impl Drop for ModuleGuard {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        running.1 -= 1;
        if running.1 == 0 {
            running.0 = None;
            CHANGED.notify_all();
        }
    }
}
