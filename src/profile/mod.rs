//! Hardening profiles: the YAML schema, loading from the search path with `extends`,
//! and the resolved `Profile` that policy reads.

pub mod load;
pub mod model;
pub mod schema;
pub mod signatures;
pub mod trust;

pub use load::Loader;
pub use model::{DefaultUser, Profile};
