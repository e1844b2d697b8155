//! export (skeleton)
