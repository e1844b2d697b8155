//! l7 (next)
