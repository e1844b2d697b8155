//! signals (skeleton)
