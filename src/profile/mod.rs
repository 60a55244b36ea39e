//! Hardening profiles: the YAML schema, loading from the search path with `extends`,
//! and the resolved `Profile` that policy reads.

// The key list is checked against the schema and the docs in tests; nothing else reads it.
#[cfg(test)]
pub mod keys;
pub mod load;
pub mod model;
pub mod resolve;
pub mod schema;
pub mod signatures;
pub mod trust;

pub use load::Loader;
pub use model::{DefaultUser, Profile};
