//! run: the live agent (telegen run).
