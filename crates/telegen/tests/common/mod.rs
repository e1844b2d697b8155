//! Helpers shared by the integration tests.

pub mod agent;
pub mod corpus;
pub mod netns;
pub mod nginx;
pub mod otlp;
pub mod prom;
