//! The Python of the test venv (TELEGEN_PYTHON, with the packages of tests/requirements.txt)
//! and the client and server scripts in tests/py.

#![allow(dead_code)]

/// The venv's python; fails the test with the reason when TELEGEN_PYTHON is not set.
pub fn python() -> String {
    std::env::var("TELEGEN_PYTHON").expect(
        "TELEGEN_PYTHON is not set: it must name a python with tests/requirements.txt \
         installed (scripts/test.sh creates target/ci-venv and sets it)",
    )
}

/// The path of the script `name` in tests/py.
pub fn py_script(name: &str) -> String {
    format!("{}/tests/py/{name}", env!("CARGO_MANIFEST_DIR"))
}
